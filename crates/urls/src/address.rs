//! Which function URL a request is addressed to: by its host
//! (`<url-id>.lambda-url.<region>.localhost[:port]`), or, for clients that cannot resolve
//! `*.localhost`, by the path form `/lambda-url/<url-id>/<path>` on the node's own address.
//! Either way the function sees the same request: the routing prefix is not part of `rawPath`.

use http::request::Parts;

/// The path prefix of the path form.
pub const PATH_PREFIX: &str = "/lambda-url/";

/// Where a request is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The URL id as sent, lower-cased (host names are case-insensitive).
    pub url_id: String,
    /// The region the host names; the node's own for the path form.
    pub region: Option<String>,
    /// The request path without the routing prefix, as sent (still percent-encoded).
    pub raw_path: String,
    /// The port the client connected to, as its `Host` names it.
    pub port: Option<u16>,
}

/// The host the request names, without its port, and the port.
fn host(parts: &Parts) -> Option<(String, Option<u16>)> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (name, port.parse::<u16>().ok())
        }
        _ => (host, None),
    };
    Some((name.to_ascii_lowercase(), port))
}

/// The function URL a request is addressed to, if it is addressed to one.
pub fn of(parts: &Parts) -> Option<Address> {
    let (name, port) = host(parts).unwrap_or_default();
    if let Some((id, region)) = name
        .strip_suffix(".localhost")
        .and_then(|h| h.split_once(".lambda-url."))
        && !id.is_empty()
        && !id.contains('.')
        && !region.is_empty()
        && !region.contains('.')
    {
        return Some(Address {
            url_id: id.to_string(),
            region: Some(region.to_string()),
            raw_path: parts.uri.path().to_string(),
            port,
        });
    }
    let rest = parts.uri.path().strip_prefix(PATH_PREFIX)?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    Some(Address {
        url_id: id.to_ascii_lowercase(),
        region: None,
        raw_path: format!("/{tail}"),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, host: &str) -> Parts {
        http::Request::builder()
            .uri(uri)
            .header("host", host)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";

    #[test]
    fn the_host_names_the_url() {
        let a = of(&parts(
            "/my/path?x=1",
            &format!("{}.LAMBDA-URL.us-east-1.localhost:9000", ID.to_uppercase()),
        ))
        .unwrap();
        assert_eq!(a.url_id, ID);
        assert_eq!(a.region.as_deref(), Some("us-east-1"));
        assert_eq!(a.raw_path, "/my/path");
        assert_eq!(a.port, Some(9000));
    }

    #[test]
    fn the_path_form_drops_its_prefix() {
        let a = of(&parts(
            &format!("/lambda-url/{ID}/my/path"),
            "127.0.0.1:9000",
        ))
        .unwrap();
        assert_eq!((a.url_id.as_str(), a.raw_path.as_str()), (ID, "/my/path"));
        let a = of(&parts(&format!("/lambda-url/{ID}"), "127.0.0.1:9000")).unwrap();
        assert_eq!(a.raw_path, "/");
        let a = of(&parts(&format!("/lambda-url/{ID}/"), "127.0.0.1:9000")).unwrap();
        assert_eq!(a.raw_path, "/");
    }

    #[test]
    fn other_requests_are_not_urls() {
        assert_eq!(of(&parts("/2015-03-31/functions", "127.0.0.1:9000")), None);
        assert_eq!(of(&parts("/bucket/key", "bucket.s3.localhost:9000")), None);
        assert_eq!(of(&parts("/", "lambda-url.us-east-1.localhost")), None);
    }
}
