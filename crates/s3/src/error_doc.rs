//! S3's error documents in full.
//!
//! s3s writes `<Error>` with `Code`, `Message` and `RequestId` only. S3 also names what the error
//! is about (`BucketName`, `Key`, `UploadId`, `RangeRequested`/`ActualObjectSize`,
//! `AWSAccessKeyId`, and for a signature that did not match the string to sign and canonical
//! request it computed), ends with `HostId`, and always sends its message. This rewrites each error
//! document once, on its way out: details that follow from the request are taken from it, the
//! others a handler attaches to its error with [`with_detail`].

use crate::auth::virtual_bucket;
use crate::events::RequestFacts;
use axum::body::Body;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, RANGE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use s3s::S3Error;

/// Carries a handler's details from its [`S3Error`] to the document (never sent).
const DETAIL_HEADER: HeaderName = HeaderName::from_static("x-ignis-error-detail");
/// Error documents are a few hundred bytes; anything larger is passed on untouched.
const MAX_DOCUMENT: usize = 64 * 1024;
/// What a detail's value is escaped with inside [`DETAIL_HEADER`].
const DETAIL_VALUE: &AsciiSet = &CONTROLS.add(b'%').add(b'=').add(b' ');

/// `e` with `<name>value</name>` in its error document.
pub fn with_detail(mut e: S3Error, name: &str, value: &str) -> S3Error {
    let mut headers = e.headers().cloned().unwrap_or_default();
    let encoded = format!("{name}={}", utf8_percent_encode(value, DETAIL_VALUE));
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        headers.append(DETAIL_HEADER, v);
    }
    e.set_headers(headers);
    e
}

/// The message S3 sends with an error code.
pub fn standard_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDenied" => "Access Denied",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "BucketAlreadyOwnedByYou" => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        "BucketNotEmpty" => "The bucket you tried to delete is not empty",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        }
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "InvalidPart" => {
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        }
        "InvalidPartOrder" => {
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        }
        "InvalidRange" => "The requested range is not satisfiable",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the current time is too large."
        }
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "SlowDown" => "Please reduce your request rate.",
        "XAmzContentSHA256Mismatch" => {
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        }
        _ => return None,
    })
}

/// What of the request an error document may name, taken before the request is handed on.
pub struct Asked {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

impl Asked {
    pub fn of(req: &Request<Body>) -> Asked {
        Asked {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers: req.headers().clone(),
        }
    }

    /// The bucket and key the request names, decoded (virtual-hosted or path-style).
    fn bucket_and_key(&self) -> (Option<String>, Option<String>) {
        let host = self.headers.get(HOST).and_then(|h| h.to_str().ok());
        let path = self.path.strip_prefix('/').unwrap_or(&self.path);
        let (bucket, key) = match host.and_then(virtual_bucket) {
            Some(bucket) => (Some(bucket.to_owned()), Some(path)),
            None => match path.split_once('/') {
                Some((bucket, key)) => (Some(decode(bucket)), Some(key)),
                None => ((!path.is_empty()).then(|| decode(path)), None),
            },
        };
        (bucket, key.filter(|k| !k.is_empty()).map(decode))
    }

    fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (n == name).then(|| decode(v))
        })
    }

    fn header(&self, name: impl http::header::AsHeaderName) -> Option<String> {
        Some(self.headers.get(name)?.to_str().ok()?.to_owned())
    }

    /// The details S3 sends with `code` that the request itself gives.
    fn details(&self, code: &str) -> Vec<(&'static str, String)> {
        let (bucket, key) = self.bucket_and_key();
        let mut out = Vec::new();
        match code {
            "NoSuchBucket" | "BucketAlreadyOwnedByYou" | "BucketNotEmpty" | "InvalidBucketName" => {
                out.extend(bucket.map(|b| ("BucketName", b)));
            }
            // A missing copy source is named by the header, not by the key written to.
            "NoSuchKey" if !self.headers.contains_key("x-amz-copy-source") => {
                out.extend(key.map(|k| ("Key", k)));
            }
            "NoSuchUpload" => out.extend(self.query_param("uploadId").map(|u| ("UploadId", u))),
            "InvalidRange" => out.extend(self.header(RANGE).map(|r| ("RangeRequested", r))),
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                let head = ignis_sigv4::RequestHead {
                    method: self.method.as_str(),
                    path: &self.path,
                    query: self.query.as_deref(),
                    headers: &self.headers,
                };
                let Some(d) = ignis_sigv4::describe(&head) else {
                    return out;
                };
                out.push(("AWSAccessKeyId", d.access_key_id));
                if code == "SignatureDoesNotMatch" {
                    out.push(("StringToSign", d.string_to_sign.clone()));
                    out.push(("SignatureProvided", d.signature_provided));
                    out.push(("StringToSignBytes", spaced_hex(&d.string_to_sign)));
                    out.push(("CanonicalRequestBytes", spaced_hex(&d.canonical_request)));
                    out.push(("CanonicalRequest", d.canonical_request));
                }
            }
            _ => {}
        }
        out
    }
}

/// The response with its error document completed; any other response as it was.
pub async fn complete(
    response: Response<Body>,
    asked: &Asked,
    facts: &RequestFacts,
) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let attached: Vec<(String, String)> = parts
        .headers
        .get_all(DETAIL_HEADER)
        .iter()
        .filter_map(|v| {
            let (name, value) = v.to_str().ok()?.split_once('=')?;
            Some((name.to_owned(), decode(value)))
        })
        .collect();
    parts.headers.remove(DETAIL_HEADER);
    let is_xml = parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/xml"));
    let is_document = is_xml || !attached.is_empty();
    if parts.status.as_u16() < 400 || asked.method == Method::HEAD || !is_document {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_DOCUMENT).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "an S3 error document could not be read");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let Some(document) = std::str::from_utf8(&bytes).ok().and_then(|text| {
        let code = element(text, "Code")?;
        let mut details = asked.details(code);
        details.retain(|(name, _)| !attached.iter().any(|(n, _)| n == name));
        Some(render(text, code, &details, &attached, facts))
    }) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(document))
}

/// `<Error>` with S3's message, the details, the request id and the host id.
fn render(
    original: &str,
    code: &str,
    details: &[(&str, String)],
    attached: &[(String, String)],
    facts: &RequestFacts,
) -> String {
    let standard = standard_message(code);
    // A signature mismatch always reads as S3 words it; otherwise s3s's message stands.
    let message = match (element(original, "Message"), standard) {
        (Some(m), _) if code != "SignatureDoesNotMatch" => Some(m.to_owned()),
        (_, Some(s)) => Some(escape(s)),
        (m, None) => m.map(str::to_owned),
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
    push_raw(&mut out, "Code", code);
    if let Some(m) = &message {
        push_raw(&mut out, "Message", m);
    }
    for (name, value) in details {
        push_raw(&mut out, name, &escape(value));
    }
    for (name, value) in attached {
        push_raw(&mut out, name, &escape(value));
    }
    push_raw(&mut out, "RequestId", &escape(&facts.request_id));
    push_raw(&mut out, "HostId", &escape(&facts.host_id));
    out.push_str("</Error>");
    out
}

fn push_raw(out: &mut String, name: &str, escaped: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(escaped);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// The raw (still escaped) text of the first `<name>…</name>` of a flat document.
fn element<'a>(document: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = document.find(&open)? + open.len();
    let end = start + document[start..].find(&format!("</{name}>"))?;
    Some(&document[start..end])
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// S3's `…Bytes` form: each byte as two hex digits, separated by spaces.
fn spaced_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for (i, b) in text.bytes().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(method: &str, uri: &str, host: &str) -> Asked {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, host)
            .body(Body::empty())
            .unwrap();
        Asked::of(&req)
    }

    fn facts() -> RequestFacts {
        RequestFacts {
            request_id: "0123456789ABCDEF".into(),
            host_id: "aG9zdA==".into(),
            ..Default::default()
        }
    }

    #[test]
    fn bucket_and_key_from_either_addressing() {
        let a = asked("GET", "/photos/a%20b/c.jpg", "127.0.0.1:9070");
        assert_eq!(
            a.bucket_and_key(),
            (Some("photos".into()), Some("a b/c.jpg".into()))
        );
        let a = asked("GET", "/a%20b/c.jpg", "photos.s3.localhost:9070");
        assert_eq!(
            a.bucket_and_key(),
            (Some("photos".into()), Some("a b/c.jpg".into()))
        );
        assert_eq!(
            asked("PUT", "/photos", "localhost").bucket_and_key(),
            (Some("photos".into()), None)
        );
        assert_eq!(
            asked("GET", "/", "localhost").bucket_and_key(),
            (None, None)
        );
    }

    #[tokio::test]
    async fn an_error_document_gets_its_message_details_and_ids() {
        let mut response = Response::new(Body::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>",
        ));
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        let a = asked("GET", "/photos/a%26b", "127.0.0.1");
        let done = complete(response, &a, &facts()).await;
        let body = axum::body::to_bytes(done.into_body(), 4096).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message><Key>a&amp;b</Key>\
             <RequestId>0123456789ABCDEF</RequestId><HostId>aG9zdA==</HostId></Error>"
        );
    }

    #[tokio::test]
    async fn attached_details_travel_in_a_header_that_is_never_sent() {
        let e = with_detail(
            S3Error::new(s3s::S3ErrorCode::InvalidRange),
            "ActualObjectSize",
            "100",
        );
        let mut response = Response::new(Body::from(
            "<Error><Code>InvalidRange</Code><Message>m</Message></Error>",
        ));
        *response.status_mut() = http::StatusCode::RANGE_NOT_SATISFIABLE;
        *response.headers_mut() = e.headers().unwrap().clone();
        let req = Request::builder()
            .uri("/b/k")
            .header(RANGE, "bytes=100-")
            .body(Body::empty())
            .unwrap();
        let done = complete(response, &Asked::of(&req), &facts()).await;
        assert!(done.headers().get(DETAIL_HEADER).is_none());
        assert_eq!(done.headers()[CONTENT_TYPE], "application/xml");
        let body = axum::body::to_bytes(done.into_body(), 4096).await.unwrap();
        let body = std::str::from_utf8(&body).unwrap();
        assert!(body.contains(
            "<Message>m</Message><RangeRequested>bytes=100-</RangeRequested><ActualObjectSize>100</ActualObjectSize>"
        ), "{body}");
    }

    #[test]
    fn bytes_are_spelled_as_s3_spells_them() {
        assert_eq!(spaced_hex("AW\n"), "41 57 0a");
    }
}
