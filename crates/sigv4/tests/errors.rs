//! Each error variant, its AWS error type and message, and the clock-skew and expiry boundaries.

use chrono::{DateTime, Duration, TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use ignis_sigv4::canonical::{
    UriEncoding, UriMode, canonical_headers, canonical_query, canonical_request, canonical_uri,
    credential_scope, normalize_path, sha256_hex, signature, signing_key, string_to_sign,
};
use ignis_sigv4::{SigV4Error, SignedRequest, SigningKeyCache, sign, verify, verify_with_cache};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "lambda.us-east-1.amazonaws.com";
const PATH: &str = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations";

fn secrets(key: &str) -> Option<String> {
    (key == AKID).then(|| SECRET.to_owned())
}

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn now() -> DateTime<Utc> {
    t(2019, 1, 1, 0, 20, 0)
}

/// An owned request.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    fn new(body: &[u8]) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static(HOST));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-amz-invocation-type",
            HeaderValue::from_static("RequestResponse"),
        );
        Self {
            method: "POST".to_owned(),
            path: PATH.to_owned(),
            query: Some("Qualifier=%24LATEST".to_owned()),
            headers,
            body: body.to_vec(),
        }
    }

    /// Signed with `sign` at `at`.
    fn signed_at(mut self, at: DateTime<Utc>) -> Self {
        let added = sign(
            &self.method,
            &self.path,
            self.query.as_deref(),
            &self.headers,
            &self.body,
            AKID,
            SECRET,
            "us-east-1",
            "lambda",
            at,
        );
        for (name, value) in added {
            self.headers.insert(name, value);
        }
        self
    }

    fn as_signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn verify_at(&self, at: DateTime<Utc>) -> Result<ignis_sigv4::Identity, SigV4Error> {
        verify(&self.as_signed(), at, "lambda", secrets)
    }

    fn verify(&self) -> Result<ignis_sigv4::Identity, SigV4Error> {
        self.verify_at(now())
    }

    fn set(&mut self, name: &'static str, value: &str) {
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
    }

    fn authorization(&self) -> String {
        self.headers["authorization"].to_str().unwrap().to_owned()
    }
}

/// The signature of `req` computed by hand: `signed` headers, the request time `amz_date` and
/// `scope_date/us-east-1/lambda`; `uri` overrides the canonical URI.
fn manual_signature(req: &Req, signed: &[&str], amz_date: &str, uri: Option<&str>) -> String {
    let scope = credential_scope(&amz_date[..8], "us-east-1", "lambda");
    let creq = canonical_request(
        &req.method,
        &uri.map_or_else(
            || canonical_uri(&req.path, UriMode::for_service("lambda")),
            str::to_owned,
        ),
        &canonical_query(req.query.as_deref().unwrap_or_default(), false),
        &canonical_headers(&req.headers, signed),
        &signed.join(";"),
        &sha256_hex(&req.body),
    );
    let key = signing_key(SECRET, &amz_date[..8], "us-east-1", "lambda");
    hex::encode(signature(&key, &string_to_sign(amz_date, &scope, &creq)))
}

#[track_caller]
fn assert_incomplete(result: Result<ignis_sigv4::Identity, SigV4Error>, needle: &str) {
    match result {
        Err(e @ SigV4Error::IncompleteSignature(_)) => {
            assert_eq!(e.aws_error_type(), "IncompleteSignatureException");
            assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
        }
        other => panic!("expected IncompleteSignature containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn a_signed_request_verifies() {
    let req = Req::new(b"{\"a\":1}").signed_at(now());
    let identity = req.verify().unwrap();
    assert_eq!(identity.access_key_id, AKID);
    assert_eq!(identity.region, "us-east-1");
    assert_eq!(identity.service, "lambda");
    let auth = req.authorization();
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/20190101/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type, Signature="
        )),
        "{auth}"
    );
}

#[test]
fn missing_authentication_token() {
    let req = Req::new(b"{}");
    let err = req.verify().unwrap_err();
    assert_eq!(err, SigV4Error::MissingAuthenticationToken);
    assert_eq!(err.aws_error_type(), "MissingAuthenticationTokenException");
    assert_eq!(err.to_string(), "Missing Authentication Token");
    assert_eq!(err.status_code(), 403);

    // Presigning parameters without X-Amz-Algorithm are not a signature either.
    let mut req = Req::new(b"{}");
    req.query = Some("X-Amz-Signature=abcd&X-Amz-Credential=x".to_owned());
    assert_eq!(req.verify(), Err(SigV4Error::MissingAuthenticationToken));
}

#[test]
fn incomplete_authorization_header() {
    let good = Req::new(b"{}").signed_at(now());
    let auth = good.authorization();
    let (_, params) = auth.split_once(' ').unwrap();
    let parts: Vec<&str> = params.split(", ").collect();
    assert_eq!(parts.len(), 3);
    for (skip, name) in [(0, "Credential"), (1, "SignedHeaders"), (2, "Signature")] {
        let mut req = good.clone();
        let kept: Vec<&str> = parts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, p)| *p)
            .collect();
        let value = format!("AWS4-HMAC-SHA256 {}", kept.join(", "));
        req.set("authorization", &value);
        let err = req.verify().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Authorization header requires '{name}' parameter. Authorization={value}")
        );
        assert_eq!(err.aws_error_type(), "IncompleteSignatureException");
    }

    let mut req = good.clone();
    req.set("authorization", "Bearer abc.def");
    let err = req.verify().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unsupported AWS 'algorithm': 'Bearer'; only 'AWS4-HMAC-SHA256' is supported. \
         Authorization header requires 'Credential' parameter. \
         Authorization header requires 'Signature' parameter. \
         Authorization header requires 'SignedHeaders' parameter. \
         Authorization=Bearer abc.def"
    );

    let mut req = good.clone();
    req.set(
        "authorization",
        &auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
    );
    assert_incomplete(
        req.verify(),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
    );

    let mut req = good.clone();
    req.set("authorization", "");
    assert_incomplete(req.verify(), "requires 'Credential' parameter");
}

#[test]
fn incomplete_credential_scope() {
    let good = Req::new(b"{}").signed_at(now());
    let auth = good.authorization();
    let scope = format!("{AKID}/20190101/us-east-1/lambda/aws4_request");
    for (bad_scope, needle) in [
        (
            format!("{AKID}/20190101/us-east-1/lambda"),
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            format!("{AKID}/20190101/us-east-1/lambda/aws4_request/x"),
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            "/20190101/us-east-1/lambda/aws4_request".to_owned(),
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            format!("{AKID}/20190101//lambda/aws4_request"),
            "Credential should be scoped to a valid region.",
        ),
        (
            format!("{AKID}/20190101/us-east-1/lambda/aws5_request"),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
        ),
    ] {
        let mut req = good.clone();
        req.set("authorization", &auth.replace(&scope, &bad_scope));
        assert_incomplete(req.verify(), needle);
    }
}

#[test]
fn incomplete_date() {
    let good = Req::new(b"{}").signed_at(now());

    let mut req = good.clone();
    req.headers.remove("x-amz-date");
    assert_incomplete(
        req.verify(),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 ",
    );

    let mut req = good.clone();
    req.set("x-amz-date", "2019-01-01T00:20:00Z");
    assert_incomplete(
        req.verify(),
        "Date must be in ISO-8601 'basic format'. Got '2019-01-01T00:20:00Z'.",
    );
}

#[test]
fn host_must_be_signed() {
    let mut req = Req::new(b"{}");
    let signed = ["content-type", "x-amz-date"];
    req.set("x-amz-date", "20190101T002000Z");
    let sig = manual_signature(&req, &signed, "20190101T002000Z", None);
    req.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/20190101/us-east-1/lambda/aws4_request, SignedHeaders=content-type;x-amz-date, Signature={sig}"
        ),
    );
    let err = req.verify().unwrap_err();
    assert_eq!(
        err,
        SigV4Error::IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned()
        )
    );
}

#[test]
fn unknown_access_key() {
    let req = Req::new(b"{}").signed_at(now());
    let err = verify(&req.as_signed(), now(), "lambda", |_| None).unwrap_err();
    assert_eq!(err, SigV4Error::UnrecognizedClient);
    assert_eq!(err.aws_error_type(), "UnrecognizedClientException");
    assert_eq!(
        err.to_string(),
        "The security token included in the request is invalid."
    );
}

#[test]
fn invalid_signature() {
    let good = Req::new(b"{\"x\":1}").signed_at(now());
    let auth = good.authorization();
    let sig = auth.rsplit_once("Signature=").unwrap().1.to_owned();

    let mut flipped = sig.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [flipped.as_str(), "zz", "", &sig[..62], &sig.to_uppercase()] {
        let mut req = good.clone();
        req.set("authorization", &auth.replace(&sig, bad));
        let result = req.verify();
        if bad == sig.to_uppercase() {
            // Hex digits are compared as bytes, so case does not matter.
            assert!(result.is_ok(), "{result:?}");
            continue;
        }
        if bad.is_empty() {
            assert_incomplete(result, "requires 'Signature' parameter");
            continue;
        }
        let err = result.unwrap_err();
        assert_eq!(err, SigV4Error::InvalidSignature, "signature {bad:?}");
        assert_eq!(err.aws_error_type(), "InvalidSignatureException");
        assert_eq!(
            err.to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
        );
    }

    // Wrong secret.
    let err = verify(&good.as_signed(), now(), "lambda", |_| {
        Some("not-the-secret".to_owned())
    });
    assert_eq!(err, Err(SigV4Error::InvalidSignature));

    // A signed header that is not sent.
    let mut req = good.clone();
    req.headers.remove("x-amz-invocation-type");
    assert_eq!(req.verify(), Err(SigV4Error::InvalidSignature));

    // Another method, body, query.
    let mut req = good.clone();
    req.method = "PUT".to_owned();
    assert_eq!(req.verify(), Err(SigV4Error::InvalidSignature));
    let mut req = good.clone();
    req.body = b"{\"x\":2}".to_vec();
    assert_eq!(req.verify(), Err(SigV4Error::InvalidSignature));
    let mut req = good.clone();
    req.query = Some("Qualifier=1".to_owned());
    assert_eq!(req.verify(), Err(SigV4Error::InvalidSignature));

    // A path signed once instead of twice (as an S3 signer would) does not verify for lambda.
    let mut req = Req::new(b"{}");
    req.set("x-amz-date", "20190101T002000Z");
    let signed = ["host", "x-amz-date"];
    let once = canonical_uri(
        PATH,
        UriMode {
            encoding: UriEncoding::Single,
            normalize: true,
        },
    );
    let sig = manual_signature(&req, &signed, "20190101T002000Z", Some(&once));
    req.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/20190101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
        ),
    );
    assert_eq!(req.verify(), Err(SigV4Error::InvalidSignature));
}

#[test]
fn wrong_service_and_scope_date() {
    let req = Req::new(b"{}").signed_at(now());
    let err = verify(&req.as_signed(), now(), "execute-api", secrets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Credential should be scoped to correct service: 'execute-api'. "
    );
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");

    let mut req = req.clone();
    let auth = req.authorization().replace("/20190101/", "/20181231/");
    req.set("authorization", &auth);
    let err = req.verify().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20181231' != '20190101', from '20190101T002000Z'."
    );
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
}

#[test]
fn clock_skew_boundaries() {
    let signed_at = t(2019, 1, 1, 0, 0, 0);
    let req = Req::new(b"{}").signed_at(signed_at);

    // The server's clock is ahead.
    assert!(req.verify_at(signed_at + Duration::minutes(14)).is_ok());
    assert!(req.verify_at(signed_at + Duration::minutes(15)).is_ok());
    let err = req
        .verify_at(signed_at + Duration::minutes(15) + Duration::seconds(1))
        .unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureExpired { .. }));
    let err = req
        .verify_at(signed_at + Duration::minutes(16))
        .unwrap_err();
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
    assert_eq!(
        err.to_string(),
        "Signature expired: 20190101T000000Z is now earlier than 20190101T000100Z (20190101T001600Z - 15 min.)"
    );
    let err = req.verify_at(t(2019, 1, 1, 0, 20, 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Signature expired: 20190101T000000Z is now earlier than 20190101T000500Z (20190101T002000Z - 15 min.)"
    );

    // The server's clock is behind.
    assert!(req.verify_at(signed_at - Duration::minutes(14)).is_ok());
    assert!(req.verify_at(signed_at - Duration::minutes(15)).is_ok());
    let err = req
        .verify_at(signed_at - Duration::minutes(16))
        .unwrap_err();
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
    assert_eq!(
        err.to_string(),
        "Signature not yet current: 20190101T000000Z is still later than 20181231T235900Z (20181231T234400Z + 15 min.)"
    );
}

/// A presigned URL for `req`, signed at `at`, good for `expires` seconds.
fn presign(req: &Req, at: DateTime<Utc>, expires: u64) -> Req {
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let scope = credential_scope(&amz_date[..8], "us-east-1", "lambda");
    let mut query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F{}&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
        scope.replace('/', "%2F")
    );
    if let Some(q) = &req.query {
        query = format!("{q}&{query}");
    }
    let creq = canonical_request(
        &req.method,
        &canonical_uri(&req.path, UriMode::for_service("lambda")),
        &canonical_query(&query, false),
        &canonical_headers(&req.headers, &["host"]),
        "host",
        &sha256_hex(&req.body),
    );
    let key = signing_key(SECRET, &amz_date[..8], "us-east-1", "lambda");
    let sig = hex::encode(signature(&key, &string_to_sign(&amz_date, &scope, &creq)));
    let mut out = req.clone();
    out.query = Some(format!("{query}&X-Amz-Signature={sig}"));
    out
}

#[test]
fn presigned_expiry() {
    let signed_at = t(2019, 1, 1, 0, 0, 0);
    let url = presign(&Req::new(b""), signed_at, 3600);
    assert!(url.verify_at(signed_at).is_ok());
    // Unlike the header form, a presigned URL is good for X-Amz-Expires, not 15 minutes.
    assert!(url.verify_at(signed_at + Duration::minutes(30)).is_ok());
    assert!(url.verify_at(signed_at + Duration::seconds(3600)).is_ok());
    let err = url
        .verify_at(signed_at + Duration::seconds(3601))
        .unwrap_err();
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
    assert_eq!(
        err.to_string(),
        "Signature expired: 20190101T000000Z is now earlier than 20190101T000001Z (20190101T010001Z - 3600 sec.)"
    );
    // Signed in the future beyond the skew.
    let err = url
        .verify_at(signed_at - Duration::minutes(16))
        .unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureNotYetCurrent { .. }));

    // A short-lived URL.
    let url = presign(&Req::new(b""), signed_at, 60);
    assert!(url.verify_at(signed_at + Duration::seconds(60)).is_ok());
    assert!(matches!(
        url.verify_at(signed_at + Duration::seconds(61)),
        Err(SigV4Error::SignatureExpired { .. })
    ));

    // Changing X-Amz-Expires breaks the signature.
    let mut longer = presign(&Req::new(b""), signed_at, 60);
    longer.query = Some(
        longer
            .query
            .unwrap()
            .replace("X-Amz-Expires=60", "X-Amz-Expires=600"),
    );
    assert_eq!(
        longer.verify_at(signed_at),
        Err(SigV4Error::InvalidSignature)
    );
}

#[test]
fn incomplete_presigned_query() {
    let signed_at = now();
    let url = presign(&Req::new(b""), signed_at, 3600);
    let query = url.query.clone().unwrap();
    for name in [
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ] {
        let mut req = url.clone();
        req.query = Some(
            query
                .split('&')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect::<Vec<_>>()
                .join("&"),
        );
        let err = req.verify().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
            )
        );
        assert_eq!(err.aws_error_type(), "IncompleteSignatureException");
    }

    let mut req = url.clone();
    req.query = Some(query.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"));
    assert_incomplete(req.verify(), "Unsupported AWS 'algorithm'");

    let mut req = url.clone();
    req.query = Some(query.replace("X-Amz-Expires=3600", "X-Amz-Expires=604801"));
    assert_incomplete(
        req.verify(),
        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
    );

    let mut req = url.clone();
    req.query = Some(query.replace("X-Amz-Expires=3600", "X-Amz-Expires=soon"));
    assert_incomplete(req.verify(), "X-Amz-Expires should be a number");
}

#[test]
fn presigned_url_with_session_token_and_body() {
    let mut req = Req::new(b"payload");
    req.query = Some("X-Amz-Security-Token=FQoGZXIvYXdzE%2B%2F%3D".to_owned());
    let url = presign(&req, now(), 900);
    assert!(url.verify().is_ok());
    // The body is hashed into presigned non-S3 requests too.
    let mut other = url.clone();
    other.body = b"other".to_vec();
    assert_eq!(other.verify(), Err(SigV4Error::InvalidSignature));
}

#[test]
fn date_header_fallback() {
    let mut req = Req::new(b"{}");
    req.set("date", "Tue, 01 Jan 2019 00:20:00 GMT");
    let signed = ["date", "host"];
    let sig = manual_signature(&req, &signed, "20190101T002000Z", None);
    req.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/20190101/us-east-1/lambda/aws4_request, SignedHeaders=date;host, Signature={sig}"
        ),
    );
    assert!(req.verify().is_ok());
    assert!(matches!(
        req.verify_at(now() + Duration::minutes(16)),
        Err(SigV4Error::SignatureExpired { .. })
    ));
}

#[test]
fn content_sha256_header() {
    // A declared hash that matches the body.
    let mut req = Req::new(b"{\"k\":\"v\"}");
    req.set("x-amz-content-sha256", &sha256_hex(b"{\"k\":\"v\"}"));
    let req = req.signed_at(now());
    assert!(req.verify().is_ok());
    assert!(req.authorization().contains("x-amz-content-sha256"));

    // The signature is right, but the body is not the one declared.
    let mut tampered = req.clone();
    tampered.body = b"{\"k\":\"w\"}".to_vec();
    let err = tampered.verify().unwrap_err();
    assert_eq!(err, SigV4Error::PayloadHashMismatch);
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");

    // UNSIGNED-PAYLOAD leaves the body out of the signature.
    let mut req = Req::new(b"one");
    req.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    let mut req = req.signed_at(now());
    assert!(req.verify().is_ok());
    req.body = b"two".to_vec();
    assert!(req.verify().is_ok());

    // Streaming payloads are not supported.
    let mut req = Req::new(b"x");
    req.set("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let req = req.signed_at(now());
    assert_incomplete(
        req.verify(),
        "x-amz-content-sha256 must be 'UNSIGNED-PAYLOAD'",
    );
}

#[test]
fn header_canonicalisation_is_forgiving_where_aws_is() {
    let mut req = Req::new(b"{}");
    req.headers
        .append("x-amz-meta-list", HeaderValue::from_static("a"));
    req.headers
        .append("x-amz-meta-list", HeaderValue::from_static("  b   c "));
    let req = req.signed_at(now());
    assert!(req.authorization().contains("x-amz-meta-list"));
    assert!(req.verify().is_ok());

    // Extra spaces in a signed value don't matter.
    let mut spaced = req.clone();
    spaced.set("x-amz-invocation-type", "   RequestResponse ");
    assert!(spaced.verify().is_ok());
    // The order of a repeated header's values does matter.
    let mut reordered = req.clone();
    let values: Vec<HeaderValue> = reordered
        .headers
        .get_all("x-amz-meta-list")
        .iter()
        .cloned()
        .collect();
    reordered.headers.remove("x-amz-meta-list");
    for v in values.into_iter().rev() {
        reordered.headers.append("x-amz-meta-list", v);
    }
    assert_eq!(reordered.verify(), Err(SigV4Error::InvalidSignature));
}

#[test]
fn paths_ending_in_a_dot_segment_verify_in_both_normalisations() {
    for path in ["/2015-03-31/functions/f/..", "/2015-03-31/functions/f/."] {
        let mut req = Req::new(b"");
        req.path = path.to_owned();
        req.query = None;
        req.set("x-amz-date", "20190101T002000Z");
        let signed = ["host", "x-amz-date"];
        // RFC 3986 (the SDK for Rust, Go, Java) keeps the trailing slash ...
        let rfc = normalize_path(path);
        assert!(rfc.ends_with('/'));
        // ... botocore does not.
        let boto = rfc.trim_end_matches('/').to_owned();
        for uri in [rfc, boto] {
            let sig = manual_signature(&req, &signed, "20190101T002000Z", Some(&uri));
            req.set(
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential={AKID}/20190101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
                ),
            );
            assert!(req.verify().is_ok(), "{path} signed as {uri}");
        }
    }
}

#[test]
fn signing_key_cache_follows_secret_rotation() {
    let cache = SigningKeyCache::new(2);
    assert!(cache.is_empty());
    let req = Req::new(b"{}").signed_at(now());
    let with = |secret: &'static str| {
        verify_with_cache(
            &req.as_signed(),
            now(),
            "lambda",
            move |_| Some(secret.to_owned()),
            &cache,
        )
    };
    assert!(with(SECRET).is_ok());
    assert!(with(SECRET).is_ok());
    assert_eq!(cache.len(), 1);
    // Rotated: the cached key for the old secret is not used.
    assert_eq!(with("rotated"), Err(SigV4Error::InvalidSignature));
    assert!(with(SECRET).is_ok());
    // Bounded.
    for day in 1..=5 {
        cache.signing_key(
            AKID,
            SECRET,
            &format!("2019010{day}"),
            "us-east-1",
            "lambda",
        );
    }
    assert!(cache.len() <= 2);
    assert_eq!(
        cache.signing_key(AKID, SECRET, "20190101", "us-east-1", "lambda"),
        signing_key(SECRET, "20190101", "us-east-1", "lambda")
    );
    // Capacity 0 caches nothing but still works.
    let none = SigningKeyCache::new(0);
    assert_eq!(
        none.signing_key(AKID, SECRET, "20190101", "us-east-1", "lambda"),
        signing_key(SECRET, "20190101", "us-east-1", "lambda")
    );
    assert!(none.is_empty());
}

#[test]
fn every_variant_has_an_aws_type_and_403() {
    let variants = [
        (
            SigV4Error::MissingAuthenticationToken,
            "MissingAuthenticationTokenException",
        ),
        (
            SigV4Error::IncompleteSignature("x".to_owned()),
            "IncompleteSignatureException",
        ),
        (
            SigV4Error::UnrecognizedClient,
            "UnrecognizedClientException",
        ),
        (SigV4Error::InvalidSignature, "InvalidSignatureException"),
        (
            SigV4Error::WrongService {
                expected: "lambda".to_owned(),
            },
            "InvalidSignatureException",
        ),
        (
            SigV4Error::ScopeDateMismatch {
                scope_date: "a".to_owned(),
                request_date: "b".to_owned(),
                request_time: "c".to_owned(),
            },
            "InvalidSignatureException",
        ),
        (
            SigV4Error::SignatureExpired {
                request_time: "a".to_owned(),
                earliest: "b".to_owned(),
                now: "c".to_owned(),
                window: "15 min.".to_owned(),
            },
            "InvalidSignatureException",
        ),
        (
            SigV4Error::SignatureNotYetCurrent {
                request_time: "a".to_owned(),
                latest: "b".to_owned(),
                now: "c".to_owned(),
            },
            "InvalidSignatureException",
        ),
        (SigV4Error::PayloadHashMismatch, "InvalidSignatureException"),
    ];
    for (error, aws_type) in variants {
        assert_eq!(error.aws_error_type(), aws_type, "{error:?}");
        assert_eq!(error.status_code(), 403);
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn sign_adds_date_and_authorization_and_replaces_a_stale_date() {
    let mut req = Req::new(b"{}");
    req.set("x-amz-date", "20000101T000000Z");
    req.set("x-amz-security-token", "token/+=");
    let req = req.signed_at(now());
    assert_eq!(req.headers["x-amz-date"], "20190101T002000Z");
    assert!(req.authorization().contains(
        "SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type;x-amz-security-token,"
    ));
    assert!(req.verify().is_ok());
}

fn head_of(req: &Req) -> ignis_sigv4::RequestHead<'_> {
    ignis_sigv4::RequestHead {
        method: &req.method,
        path: &req.path,
        query: req.query.as_deref(),
        headers: &req.headers,
    }
}

fn lambda_in(region: &str) -> ignis_sigv4::Expected<'_> {
    ignis_sigv4::Expected {
        service: "lambda",
        region: Some(region),
    }
}

#[test]
fn a_scope_with_another_region_is_refused_as_aws_words_it() {
    let req = Req::new(b"{}").signed_at(now());
    let err = ignis_sigv4::verify_head(&head_of(&req), now(), lambda_in("eu-west-1"), secrets)
        .unwrap_err();
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
    assert_eq!(
        err.to_string(),
        "Credential should be scoped to a valid region, not 'us-east-1'. "
    );
    let ok = ignis_sigv4::verify_head(&head_of(&req), now(), lambda_in("us-east-1"), secrets);
    assert!(ok.is_ok());
}

#[test]
fn the_head_is_judged_before_the_body_is_read() {
    // An unsigned request or an unknown key fails on its head alone.
    let unsigned = Req::new(b"{}");
    assert_eq!(
        ignis_sigv4::verify_head(&head_of(&unsigned), now(), lambda_in("us-east-1"), secrets)
            .unwrap_err(),
        SigV4Error::MissingAuthenticationToken
    );
    let req = Req::new(b"{\"a\":1}").signed_at(now());
    let unknown = |_: &str| None;
    assert_eq!(
        ignis_sigv4::verify_head(&head_of(&req), now(), lambda_in("us-east-1"), unknown)
            .unwrap_err(),
        SigV4Error::UnrecognizedClient
    );
    // Without x-amz-content-sha256 the signature covers the body's hash: checked at the end.
    let pending =
        ignis_sigv4::verify_head(&head_of(&req), now(), lambda_in("us-east-1"), secrets).unwrap();
    assert!(!pending.signature_checked());
    assert_eq!(
        pending.finish(&sha256_hex(b"tampered")).unwrap_err(),
        SigV4Error::InvalidSignature
    );
    let pending =
        ignis_sigv4::verify_head(&head_of(&req), now(), lambda_in("us-east-1"), secrets).unwrap();
    assert_eq!(
        pending
            .finish(&sha256_hex(&req.body))
            .unwrap()
            .access_key_id,
        AKID
    );
}

#[test]
fn a_declared_payload_hash_lets_the_signature_be_checked_first() {
    let body = b"{\"a\":1}";
    let mut req = Req::new(body);
    req.set("x-amz-content-sha256", &sha256_hex(body));
    let req = req.signed_at(now());
    let pending =
        ignis_sigv4::verify_head(&head_of(&req), now(), lambda_in("us-east-1"), secrets).unwrap();
    assert!(pending.signature_checked());
    assert_eq!(
        pending.finish(&sha256_hex(b"other")).unwrap_err(),
        SigV4Error::PayloadHashMismatch
    );
    // A wrong signature with a declared hash fails before any of the body.
    let mut forged = req.clone();
    let auth = forged.authorization();
    let flipped = format!("{}0", &auth[..auth.len() - 1]);
    let flipped = if flipped == auth {
        format!("{}1", &auth[..auth.len() - 1])
    } else {
        flipped
    };
    forged.set("authorization", &flipped);
    assert_eq!(
        ignis_sigv4::verify_head(&head_of(&forged), now(), lambda_in("us-east-1"), secrets)
            .unwrap_err(),
        SigV4Error::InvalidSignature
    );
}

#[test]
fn describe_gives_the_string_to_sign_the_signature_was_made_over() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:9070"));
    let at = now();
    for (name, value) in sign(
        "GET",
        "/photos/a%20b.jpg",
        Some("list-type=2&prefix=q%2F"),
        &headers,
        b"",
        AKID,
        SECRET,
        "us-east-1",
        "s3",
        at,
    ) {
        headers.insert(name, value);
    }
    let head = ignis_sigv4::RequestHead {
        method: "GET",
        path: "/photos/a%20b.jpg",
        query: Some("list-type=2&prefix=q%2F"),
        headers: &headers,
    };
    let d = ignis_sigv4::describe(&head).expect("a signed request");
    assert_eq!(d.access_key_id, AKID);
    assert!(
        d.canonical_request
            .starts_with("GET\n/photos/a%20b.jpg\nlist-type=2&prefix=q%2F\n")
    );
    let key = signing_key(SECRET, "20190101", "us-east-1", "s3");
    assert_eq!(
        hex::encode(signature(&key, &d.string_to_sign)),
        d.signature_provided
    );
    // No signature, nothing to describe.
    let bare = HeaderMap::new();
    let unsigned = ignis_sigv4::RequestHead {
        headers: &bare,
        ..head
    };
    assert_eq!(ignis_sigv4::describe(&unsigned), None);
}
