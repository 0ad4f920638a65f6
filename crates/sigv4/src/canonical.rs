//! Canonicalisation, string-to-sign and key derivation, shared by [`crate::verify`] and
//! [`crate::sign`].
//!
//! The canonical request is built from bytes, because header values may carry non-UTF-8 octets;
//! in practice every part is ASCII.

use std::borrow::Cow;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};

/// The only algorithm supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of a credential scope.
pub const TERMINATOR: &str = "aws4_request";
/// Payload hash value meaning "the body is not signed".
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Everything but the unreserved characters `A-Z a-z 0-9 - _ . ~` is percent-encoded.
const ENCODE_ALL_BUT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Like [`ENCODE_ALL_BUT_UNRESERVED`], but `/` is kept.
const ENCODE_ALL_BUT_UNRESERVED_AND_SLASH: &AsciiSet = &ENCODE_ALL_BUT_UNRESERVED.remove(b'/');

/// How the path becomes the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriEncoding {
    /// Percent-encode the path as sent once more, so `%3A` is signed as `%253A`. What botocore and
    /// the AWS SDKs do for every service but S3.
    Double,
    /// Sign the path encoded once: each segment is percent-decoded and re-encoded, so a path sent
    /// as `/a%20b` or `/a b` is signed as `/a%20b`. What S3 expects.
    Single,
}

/// Options for [`canonical_uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriMode {
    /// Single or double encoding.
    pub encoding: UriEncoding,
    /// Remove `.` and `..` segments and empty segments (`//`) first.
    pub normalize: bool,
}

impl UriMode {
    /// The mode AWS uses for `service`: S3 is encoded once and not normalised, everything else is
    /// normalised and encoded twice.
    pub fn for_service(service: &str) -> Self {
        if service == "s3" {
            Self {
                encoding: UriEncoding::Single,
                normalize: false,
            }
        } else {
            Self {
                encoding: UriEncoding::Double,
                normalize: true,
            }
        }
    }
}

/// The canonical URI of `path` (exactly as sent on the wire, still percent-encoded).
///
/// An empty path becomes `/`. With `normalize`, dot segments are removed as in RFC 3986 §5.2.4
/// and empty segments are dropped, as the AWS SDKs do.
pub fn canonical_uri(path: &str, mode: UriMode) -> String {
    let path = if mode.normalize {
        Cow::Owned(normalize_path(path))
    } else if path.is_empty() {
        Cow::Borrowed("/")
    } else {
        Cow::Borrowed(path)
    };
    encode_path(&path, mode.encoding)
}

pub(crate) fn encode_path(path: &str, encoding: UriEncoding) -> String {
    match encoding {
        UriEncoding::Double => {
            percent_encode(path.as_bytes(), ENCODE_ALL_BUT_UNRESERVED_AND_SLASH).to_string()
        }
        UriEncoding::Single => {
            let mut out = String::with_capacity(path.len());
            for (i, segment) in path.split('/').enumerate() {
                if i > 0 {
                    out.push('/');
                }
                let decoded: Vec<u8> = percent_decode(segment.as_bytes()).collect();
                out.extend(percent_encode(&decoded, ENCODE_ALL_BUT_UNRESERVED));
            }
            out
        }
    }
}

/// Removes dot segments (RFC 3986 §5.2.4) and empty segments; the result starts with `/`, and
/// ends with `/` when the input ends with `/`, `/.` or `/..`.
pub fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    if path.starts_with('/') && !path.contains("//") && !path.contains('.') {
        return path.to_owned();
    }
    let segments = remove_dot_segments(path);
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    let trailing =
        path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") || path == ".";
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// botocore's variant of [`normalize_path`]: it keeps a trailing slash only when the path ends
/// with `/`, so `/a/b/..` is `/a` rather than `/a/`. The two differ only for paths ending in a dot
/// segment; the verifier accepts either.
pub(crate) fn normalize_path_botocore(path: &str) -> String {
    let segments = remove_dot_segments(path);
    let mut out = String::with_capacity(path.len() + 1);
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn remove_dot_segments(path: &str) -> Vec<&str> {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments
}

/// Percent-decodes a query-string key or value: `+` means a space, as in
/// `application/x-www-form-urlencoded` and as the AWS SDK signers read it.
pub fn decode_query_component(raw: &str) -> Vec<u8> {
    if raw.contains('+') {
        percent_decode(raw.replace('+', " ").as_bytes()).collect()
    } else {
        percent_decode(raw.as_bytes()).collect()
    }
}

/// Percent-encodes everything but the unreserved characters, as AWS's `UriEncode`.
pub fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, ENCODE_ALL_BUT_UNRESERVED).to_string()
}

/// The canonical query string of `query` (as sent, without the `?`).
///
/// Each key and value is decoded and re-encoded with only unreserved characters left as is, the
/// pairs are sorted by encoded key, then encoded value, and a key without value becomes `k=`.
/// With `skip_signature`, `X-Amz-Signature` is left out (presigned URLs).
pub fn canonical_query(query: &str, skip_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = decode_query_component(key);
        if skip_signature && key == b"X-Amz-Signature" {
            continue;
        }
        pairs.push((uri_encode(&key), uri_encode(&decode_query_component(value))));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Trims spaces and tabs at both ends and collapses every run of spaces inside to one space.
pub fn normalize_header_value(value: &[u8]) -> Cow<'_, [u8]> {
    let start = value
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |i| i + 1);
    let value = &value[start..end];
    if !value.windows(2).any(|w| w == b"  ") {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    for &b in value {
        if b == b' ' && out.last() == Some(&b' ') {
            continue;
        }
        out.push(b);
    }
    Cow::Owned(out)
}

/// The canonical headers block: for each of `signed_headers` (lowercase names, in the order given)
/// a line `name:value\n`, where the values of a repeated header are normalised and joined with `,`.
/// A signed header that is absent gives `name:\n`.
pub fn canonical_headers<S: AsRef<str>>(headers: &HeaderMap, signed_headers: &[S]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * signed_headers.len());
    for name in signed_headers {
        let name = name.as_ref();
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&normalize_header_value(value.as_bytes()));
        }
        out.push(b'\n');
    }
    out
}

/// The canonical request: method, URI, query, headers block, signed-headers list and payload
/// hash, separated by newlines.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &[u8],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        method.len()
            + canonical_uri.len()
            + canonical_query.len()
            + canonical_headers.len()
            + signed_headers.len()
            + payload_hash.len()
            + 5,
    );
    for part in [method, canonical_uri, canonical_query] {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(canonical_headers);
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `date/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{TERMINATOR}")
}

/// The string to sign: algorithm, request time (`YYYYMMDDTHHMMSSZ`), scope and the hex SHA-256 of
/// the canonical request, separated by newlines.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(secret.len() + 4);
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}

/// The raw signature: `HMAC(signing_key, string_to_sign)`; hex-encode it for the wire.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac_sha256(signing_key, string_to_sign.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOUBLE: UriMode = UriMode {
        encoding: UriEncoding::Double,
        normalize: true,
    };
    const SINGLE_RAW: UriMode = UriMode {
        encoding: UriEncoding::Single,
        normalize: false,
    };

    #[test]
    fn double_encoding_reencodes_percent() {
        assert_eq!(
            canonical_uri(
                "/2015-03-31/functions/arn%3Aaws%3Alambda/invocations",
                DOUBLE
            ),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"
        );
        assert_eq!(canonical_uri("/a/%24LATEST", DOUBLE), "/a/%2524LATEST");
        assert_eq!(canonical_uri("/a~b/c-d_e.f", DOUBLE), "/a~b/c-d_e.f");
        assert_eq!(canonical_uri("/@x", DOUBLE), "/%40x");
        assert_eq!(canonical_uri("", DOUBLE), "/");
    }

    #[test]
    fn single_encoding_encodes_once() {
        assert_eq!(canonical_uri("/bucket/a%3Ab", SINGLE_RAW), "/bucket/a%3Ab");
        assert_eq!(canonical_uri("/bucket/a:b", SINGLE_RAW), "/bucket/a%3Ab");
        assert_eq!(canonical_uri("/bucket/a%2fb", SINGLE_RAW), "/bucket/a%2Fb");
        assert_eq!(canonical_uri("/b//k/../x", SINGLE_RAW), "/b//k/../x");
        assert_eq!(canonical_uri("", SINGLE_RAW), "/");
    }

    #[test]
    fn normalisation() {
        for (input, rfc, boto) in [
            ("/", "/", "/"),
            ("//", "/", "/"),
            ("/./", "/", "/"),
            ("/example/..", "/", "/"),
            ("/a/b/../..", "/", "/"),
            ("//example//", "/example/", "/example/"),
            ("/./example", "/example", "/example"),
            ("/a/b/.", "/a/b/", "/a/b"),
            ("/a/b/..", "/a/", "/a"),
            ("/../a", "/a", "/a"),
            ("/a.b/c", "/a.b/c", "/a.b/c"),
        ] {
            assert_eq!(normalize_path(input), rfc, "rfc {input}");
            assert_eq!(normalize_path_botocore(input), boto, "botocore {input}");
        }
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(
            canonical_query("b=2&a=1&a=0&c&%41=%7e+x", false),
            "A=~%20x&a=0&a=1&b=2&c="
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(canonical_query("", false), "");
        assert_eq!(
            canonical_query("q=%E1%88%B4&r=ሴ", false),
            "q=%E1%88%B4&r=%E1%88%B4"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(&*normalize_header_value(b"  a   b  c "), b"a b c");
        assert_eq!(&*normalize_header_value(b"\ta b\t"), b"a b");
        assert_eq!(&*normalize_header_value(b"   "), b"");
        assert_eq!(&*normalize_header_value(b"x"), b"x");
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", " 1 ".parse().unwrap());
        headers.append("x-a", "2  3".parse().unwrap());
        headers.insert("host", "h".parse().unwrap());
        assert_eq!(
            canonical_headers(&headers, &["host", "x-a", "x-missing"]),
            b"host:h\nx-a:1,2 3\nx-missing:\n"
        );
    }

    #[test]
    fn signing_key_matches_aws_example() {
        // From the AWS documentation's "deriving a signing key" example.
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
