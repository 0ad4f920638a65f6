//! Property tests against the real `aws-sigv4` signer (the one inside the AWS SDK for Rust):
//! random requests signed by it must verify, and any change to a signed part, or the wrong
//! secret, must not. Requests signed by our own `sign` must verify too, and carry the same
//! `Authorization` header as `aws-sigv4` produces for the same input.

use std::borrow::Cow;
use std::time::Duration as StdDuration;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign as aws_sign,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity as AwsIdentity;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use ignis_sigv4::{SigV4Error, SignedRequest, sign, verify};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

const AKID: &str = "AKIAIGNISTEST0000001";
const SECRET: &str = "ignisSecretKey/0123456789+abcdefghijABCDEFGHIJ";
const HOST: &str = "lambda.us-east-1.amazonaws.com";

/// What a URI label encoder in the AWS SDKs leaves as is: the unreserved characters.
const SDK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn sdk_encode(s: &str) -> String {
    utf8_percent_encode(s, SDK_ENCODE).to_string()
}

fn secrets(key: &str) -> Option<String> {
    (key == AKID).then(|| SECRET.to_owned())
}

/// A random request before signing.
#[derive(Debug, Clone)]
struct Input {
    method: &'static str,
    /// As on the wire: each segment encoded the way an SDK encodes a URI label.
    path: String,
    /// As on the wire, or `None`.
    query: Option<String>,
    /// Extra headers besides `host`, in order; names may repeat.
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Signing time relative to the verifier's clock, in seconds (within the allowed skew).
    skew_secs: i64,
    session_token: Option<String>,
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9:$ @=+,;!'()*&%~._-]{1,12}",
        1 => "[a-z0-9é€ሴ😀 :]{1,6}",
        1 => Just("arn:aws:lambda:us-east-1:123456789012:function:my-fn".to_owned()),
        1 => Just("$LATEST".to_owned()),
    ]
}

fn query_param() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9 :$+=&/._~-]{1,10}",
        prop::option::weighted(0.9, "[a-zA-Z0-9 :$+=&/._~é-]{0,12}"),
    )
        .prop_map(|(k, v)| match v {
            Some(v) => format!("{}={}", sdk_encode(&k), sdk_encode(&v)),
            None => sdk_encode(&k),
        })
}

fn header() -> impl Strategy<Value = (&'static str, String)> {
    (
        prop::sample::select(vec![
            "content-type",
            "x-amz-invocation-type",
            "x-amz-log-type",
            "x-amz-client-context",
            "x-custom-header",
            "x-amz-meta-thing",
        ]),
        // Printable ASCII with runs of spaces, also at both ends.
        "[ -~]{0,8}( {1,4}[!-~]{1,8}){0,3} {0,3}",
    )
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        prop::collection::vec(segment(), 0..5),
        any::<bool>(),
        prop::option::of(prop::collection::vec(query_param(), 1..5)),
        prop::collection::vec(header(), 0..5),
        prop::collection::vec(any::<u8>(), 0..200),
        -14 * 60..14 * 60i64,
        prop::option::weighted(0.3, "[A-Za-z0-9+/=]{16,48}"),
    )
        .prop_map(
            |(method, segments, trailing_slash, query, headers, body, skew_secs, session_token)| {
                let mut path: String = segments
                    .iter()
                    .map(|s| format!("/{}", sdk_encode(s)))
                    .collect();
                if path.is_empty() || trailing_slash {
                    path.push('/');
                }
                Input {
                    method,
                    path,
                    query: query.map(|q| q.join("&")),
                    headers,
                    body,
                    skew_secs,
                    session_token,
                }
            },
        )
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 15, 9, 26).unwrap()
}

/// A request as the server receives it.
#[derive(Debug, Clone)]
struct Wire {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Wire {
    fn as_signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn verify(&self, service: &str) -> Result<ignis_sigv4::Identity, SigV4Error> {
        verify(&self.as_signed(), now(), service, secrets)
    }
}

/// Signs `input` with `aws-sigv4` and returns the request as it goes on the wire.
fn sign_with_aws(input: &Input, service: &str, settings: SigningSettings) -> Wire {
    let time = now() + Duration::seconds(input.skew_secs);
    let identity: AwsIdentity =
        Credentials::new(AKID, SECRET, input.session_token.clone(), None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time.into())
        .settings(settings.clone())
        .build()
        .unwrap()
        .into();
    let uri = match &input.query {
        Some(q) => format!("https://{HOST}{}?{q}", input.path),
        None => format!("https://{HOST}{}", input.path),
    };
    let body = if settings.signature_location == SignatureLocation::QueryParams && service == "s3" {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&input.body)
    };
    let signable = SignableRequest::new(
        input.method,
        Cow::Owned(uri.clone()),
        input.headers.iter().map(|(k, v)| (*k, v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _signature) = aws_sign(signable, &params).unwrap().into_parts();

    let mut request = http::Request::builder()
        .method(input.method)
        .uri(&uri)
        .body(())
        .unwrap();
    for (name, value) in &input.headers {
        request
            .headers_mut()
            .append(*name, HeaderValue::from_str(value).unwrap());
    }
    instructions.apply_to_request_http1x(&mut request);
    let (parts, ()) = request.into_parts();
    let mut headers = parts.headers;
    headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
    Wire {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: input.body.clone(),
    }
}

fn header_settings() -> SigningSettings {
    SigningSettings::default()
}

fn presign_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(StdDuration::from_secs(3600));
    settings
}

fn s3_settings(location: SignatureLocation) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = location;
    if location == SignatureLocation::QueryParams {
        settings.expires_in = Some(StdDuration::from_secs(900));
    } else {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    settings
}

fn assert_invalid(result: Result<ignis_sigv4::Identity, SigV4Error>, what: &str) {
    assert_eq!(result, Err(SigV4Error::InvalidSignature), "{what}");
}

/// The names in `SignedHeaders` or `X-Amz-SignedHeaders`.
fn signed_header_names(wire: &Wire) -> Vec<HeaderName> {
    let list = match wire.headers.get(http::header::AUTHORIZATION) {
        Some(auth) => {
            let auth = auth.to_str().unwrap();
            let start = auth.find("SignedHeaders=").unwrap() + "SignedHeaders=".len();
            auth[start..].split(',').next().unwrap().to_owned()
        }
        None => {
            let query = wire.query.as_deref().unwrap();
            let start = query.find("X-Amz-SignedHeaders=").unwrap() + "X-Amz-SignedHeaders=".len();
            let raw = query[start..].split('&').next().unwrap();
            percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .unwrap()
                .into_owned()
        }
    };
    list.split(';')
        .map(|n| HeaderName::from_bytes(n.as_bytes()).unwrap())
        .collect()
}

/// Every way of tampering with a signed request must be caught.
fn check_tampering(wire: &Wire, service: &str) {
    let mut changed = wire.clone();
    match changed.body.first_mut() {
        Some(byte) => *byte ^= 0x01,
        None => changed.body.push(b'x'),
    }
    let result = changed.verify(service);
    if wire.headers.contains_key("x-amz-content-sha256") {
        // The signature covers the declared hash, which no longer matches the body.
        assert_eq!(result, Err(SigV4Error::PayloadHashMismatch), "body flipped");
    } else if service == "s3"
        && wire
            .query
            .as_deref()
            .is_some_and(|q| q.contains("X-Amz-Signature"))
    {
        // A presigned S3 URL does not sign the body.
        assert!(result.is_ok(), "unsigned body changed: {result:?}");
    } else {
        assert_invalid(result, "body flipped");
    }

    let mut changed = wire.clone();
    let host = format!("{HOST}.evil");
    changed
        .headers
        .insert(http::header::HOST, HeaderValue::from_str(&host).unwrap());
    assert_invalid(changed.verify(service), "host changed");

    let signed: Vec<HeaderName> = signed_header_names(wire)
        .into_iter()
        .filter(|n| !["host", "x-amz-content-sha256", "x-amz-date"].contains(&n.as_str()))
        .collect();
    if let Some(name) = signed.first() {
        let mut changed = wire.clone();
        let old = changed.headers[name].to_str().unwrap().to_owned();
        changed.headers.insert(
            name.clone(),
            HeaderValue::from_str(&format!("{old}x")).unwrap(),
        );
        assert_invalid(changed.verify(service), "header value changed");
    }

    let mut changed = wire.clone();
    changed.path.push('x');
    assert_invalid(changed.verify(service), "path changed");

    let mut changed = wire.clone();
    changed.query = Some(match &wire.query {
        Some(q) => format!("{q}&extra=1"),
        None => "extra=1".to_owned(),
    });
    assert_invalid(changed.verify(service), "query param added");

    let wrong_secret = verify(&wire.as_signed(), now(), service, |key| {
        secrets(key).map(|s| format!("{s}x"))
    });
    assert_invalid(wrong_secret, "wrong secret");

    // Not tampering: whitespace around a signed value, and unsigned headers, may change.
    let mut relaxed = wire.clone();
    relaxed.headers.insert(
        http::header::HOST,
        HeaderValue::from_str(&format!("  {HOST} ")).unwrap(),
    );
    relaxed
        .headers
        .insert(http::header::USER_AGENT, HeaderValue::from_static("curl/8"));
    relaxed
        .headers
        .insert("x-amzn-trace-id", HeaderValue::from_static("Root=1-abc"));
    assert!(relaxed.verify(service).is_ok(), "unsigned changes rejected");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aws_sigv4_header_signatures_verify(input in input()) {
        let wire = sign_with_aws(&input, "lambda", header_settings());
        let identity = wire.verify("lambda").unwrap();
        prop_assert_eq!(identity.access_key_id.as_str(), AKID);
        prop_assert_eq!(identity.region.as_str(), "us-east-1");
        prop_assert_eq!(identity.service.as_str(), "lambda");
        prop_assert_eq!(
            wire.verify("s3"),
            Err(SigV4Error::WrongService { expected: "s3".to_owned() })
        );
        check_tampering(&wire, "lambda");
    }

    #[test]
    fn aws_sigv4_presigned_urls_verify(input in input()) {
        let wire = sign_with_aws(&input, "lambda", presign_settings());
        prop_assert!(wire.headers.get(http::header::AUTHORIZATION).is_none());
        prop_assert!(wire.query.as_deref().unwrap().contains("X-Amz-Signature="));
        let identity = wire.verify("lambda").unwrap();
        prop_assert_eq!(identity.access_key_id.as_str(), AKID);
        check_tampering(&wire, "lambda");

        // The URL is good for an hour after signing, and not a second longer.
        let signed_at = now() + Duration::seconds(input.skew_secs);
        let last = verify(&wire.as_signed(), signed_at + Duration::seconds(3600), "lambda", secrets);
        prop_assert!(last.is_ok(), "{:?}", last);
        let expired = verify(&wire.as_signed(), signed_at + Duration::seconds(3601), "lambda", secrets);
        prop_assert!(
            matches!(expired, Err(SigV4Error::SignatureExpired { .. })),
            "{:?}", expired
        );
    }

    #[test]
    fn aws_sigv4_s3_signatures_verify(input in input(), presigned in any::<bool>()) {
        let location = if presigned { SignatureLocation::QueryParams } else { SignatureLocation::Headers };
        let wire = sign_with_aws(&input, "s3", s3_settings(location));
        let identity = wire.verify("s3").unwrap();
        prop_assert_eq!(identity.service.as_str(), "s3");
        check_tampering(&wire, "s3");
    }

    #[test]
    fn our_signatures_verify_and_match_aws_sigv4(input in input(), s3 in any::<bool>()) {
        let service = if s3 { "s3" } else { "lambda" };
        let signed_at = now() + Duration::seconds(input.skew_secs);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        for (name, value) in &input.headers {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(token) = &input.session_token {
            headers.insert("x-amz-security-token", HeaderValue::from_str(token).unwrap());
        }
        // Not signed by `sign`.
        headers.insert(http::header::USER_AGENT, HeaderValue::from_static("ignis-cli/0.1"));
        let added = sign(
            input.method, &input.path, input.query.as_deref(), &headers, &input.body,
            AKID, SECRET, "us-east-1", service, signed_at,
        );
        let names: Vec<&str> = added.iter().map(|(n, _)| n.as_str()).collect();
        if s3 {
            prop_assert_eq!(names, vec!["x-amz-date", "x-amz-content-sha256", "authorization"]);
        } else {
            prop_assert_eq!(names, vec!["x-amz-date", "authorization"]);
        }
        let mut wire = Wire {
            method: input.method.to_owned(),
            path: input.path.clone(),
            query: input.query.clone(),
            headers: headers.clone(),
            body: input.body.clone(),
        };
        for (name, value) in &added {
            wire.headers.insert(name.clone(), value.clone());
        }
        let identity = wire.verify(service).unwrap();
        prop_assert_eq!(identity.service.as_str(), service);
        check_tampering(&wire, service);
        // Headers `sign` leaves unsigned may change.
        if wire.headers.contains_key("x-custom-header") {
            let mut changed = wire.clone();
            changed.headers.insert("x-custom-header", HeaderValue::from_static("other"));
            prop_assert!(changed.verify(service).is_ok());
        }

        // aws-sigv4, given the headers `sign` signs (it signs everything it is given), agrees.
        let mut same = input.clone();
        same.session_token = None;
        let mut aws_headers: Vec<(&'static str, String)> = vec![("host", HOST.to_owned())];
        aws_headers.extend(
            input
                .headers
                .iter()
                .filter(|(n, _)| *n == "content-type" || n.starts_with("x-amz-"))
                .cloned(),
        );
        if let Some(token) = &input.session_token {
            aws_headers.push(("x-amz-security-token", token.clone()));
        }
        same.headers = aws_headers;
        let settings = if s3 { s3_settings(SignatureLocation::Headers) } else { header_settings() };
        let aws = sign_with_aws(&same, service, settings);
        prop_assert_eq!(
            aws.headers.get(http::header::AUTHORIZATION),
            wire.headers.get(http::header::AUTHORIZATION)
        );
    }
}
