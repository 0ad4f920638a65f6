//! Cross-origin resource sharing, handled by the URL as Lambda handles it once a URL has a
//! `Cors` configuration: a preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) is answered without invoking the function, and every other
//! response gets the configured `Access-Control-*` headers, replacing the function's own.
//! Without a configuration, both reach the function and leave untouched.

use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use ignis_model::url::Cors;

/// The `Access-Control-Allow-Origin` an origin gets, if it is allowed.
fn allowed_origin(cors: &Cors, origin: &str) -> Option<HeaderValue> {
    let origins = cors.allow_origins.as_deref().unwrap_or_default();
    let any = origins.iter().any(|o| o == "*");
    if any && cors.allow_credentials != Some(true) {
        return Some(HeaderValue::from_static("*"));
    }
    // With credentials a browser refuses `*`: the origin itself is echoed.
    (any || origins.iter().any(|o| o.eq_ignore_ascii_case(origin)))
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

fn joined(values: &Option<Vec<String>>) -> Option<HeaderValue> {
    values
        .as_ref()
        .filter(|v| !v.is_empty())
        .and_then(|v| HeaderValue::from_str(&v.join(",")).ok())
}

/// The answer to a preflight request, or `None` when the request is not one.
pub fn preflight(cors: &Cors, parts: &Parts) -> Option<Response> {
    let h = &parts.headers;
    if parts.method != Method::OPTIONS || !h.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let origin = h.get(header::ORIGIN)?.to_str().ok()?;
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::OK;
    let out = r.headers_mut();
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(allowed) = allowed_origin(cors, origin) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if let Some(v) = joined(&cors.allow_methods) {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Some(v) = joined(&cors.allow_headers) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if cors.allow_credentials == Some(true) {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(age) = cors.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
    }
    Some(r)
}

/// Puts the configured headers on a response to a request from `origin`, replacing the
/// function's own.
pub fn decorate(cors: &Cors, origin: Option<&str>, out: &mut HeaderMap) {
    for name in [
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::ACCESS_CONTROL_MAX_AGE,
    ] {
        out.remove(name);
    }
    let Some(origin) = origin else {
        return;
    };
    out.append(header::VARY, HeaderValue::from_static("Origin"));
    let Some(allowed) = allowed_origin(cors, origin) else {
        return;
    };
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    if let Some(v) = joined(&cors.expose_headers) {
        out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    if cors.allow_credentials == Some(true) {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], credentials: Option<bool>) -> Cors {
        Cors {
            allow_origins: Some(origins.iter().map(|s| s.to_string()).collect()),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_headers: Some(vec!["x-custom".into()]),
            expose_headers: Some(vec!["x-out".into()]),
            allow_credentials: credentials,
            max_age: Some(300),
        }
    }

    fn request(method: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_gets_the_configuration() {
        let c = cors(&["https://app.example"], None);
        let p = request(
            "OPTIONS",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
        );
        let r = preflight(&c, &p).unwrap();
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert_eq!(h["access-control-allow-methods"], "GET,POST");
        assert_eq!(h["access-control-allow-headers"], "x-custom");
        assert_eq!(h["access-control-max-age"], "300");
        assert!(h.get("access-control-allow-credentials").is_none());
    }

    #[test]
    fn another_origin_gets_no_cors_headers() {
        let c = cors(&["https://app.example"], None);
        let p = request(
            "OPTIONS",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "POST"),
            ],
        );
        let r = preflight(&c, &p).unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let mut out = HeaderMap::new();
        out.insert("access-control-allow-origin", "*".parse().unwrap());
        decorate(&c, Some("https://evil.example"), &mut out);
        assert!(out.get("access-control-allow-origin").is_none());
    }

    #[test]
    fn a_plain_options_request_is_not_a_preflight() {
        let c = cors(&["*"], None);
        assert!(preflight(&c, &request("OPTIONS", &[("origin", "https://a")])).is_none());
        assert!(preflight(&c, &request("GET", &[("origin", "https://a")])).is_none());
    }

    #[test]
    fn responses_get_the_configured_headers_over_the_functions() {
        let mut out = HeaderMap::new();
        out.insert("access-control-expose-headers", "mine".parse().unwrap());
        decorate(&cors(&["*"], None), Some("https://a"), &mut out);
        assert_eq!(out["access-control-allow-origin"], "*");
        assert_eq!(out["access-control-expose-headers"], "x-out");
        let mut out = HeaderMap::new();
        decorate(&cors(&["*"], Some(true)), Some("https://a"), &mut out);
        assert_eq!(out["access-control-allow-origin"], "https://a");
        assert_eq!(out["access-control-allow-credentials"], "true");
    }
}
