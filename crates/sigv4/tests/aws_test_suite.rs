//! AWS's published SigV4 test suite (`aws-sig-v4-test-suite/v4/`, the CRT version of the suite as
//! vendored by smithy-rs; see the README there). Every case is signed for service `service`,
//! region `us-east-1`, key `AKIDEXAMPLE`, at `20150830T123600Z`.
//!
//! For each case and each form (header and presigned query) this checks that our canonical
//! request, string to sign and signature equal the expected ones, and that `verify` accepts the
//! signed request. The suite encodes the canonical URI once (it signs a generic service), while
//! `verify` encodes it twice for every service but S3, as the AWS SDKs do; so the canonicalisation
//! is checked in the suite's mode, and a signed request whose URI differs between the two modes
//! must be rejected by `verify`. The `double-*` cases check the double encoding.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use ignis_sigv4::canonical::{
    UriEncoding, UriMode, canonical_headers, canonical_query, canonical_request, canonical_uri,
    credential_scope, sha256_hex, signature, signing_key, string_to_sign,
};
use ignis_sigv4::{SigV4Error, SignedRequest, verify};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The credentials smithy-rs signs its `double-*` cases with.
const TEST_ACCESS_KEY: &str = "ANOTREAL";
const TEST_SECRET: &str = "notrealrnrELgWzOk3IfjzDKtFBhDby";

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws-sig-v4-test-suite/v4")
}

fn suite_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap()
}

fn secrets(key: &str) -> Option<String> {
    match key {
        ACCESS_KEY => Some(SECRET.to_owned()),
        TEST_ACCESS_KEY => Some(TEST_SECRET.to_owned()),
        _ => None,
    }
}

/// An HTTP request read from a test-suite `.txt` file.
#[derive(Debug)]
struct RawRequest {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RawRequest {
    fn as_signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// Parses `METHOD target [HTTP/1.1]`, then `Name:value` lines (a line starting with whitespace
/// continues the previous value, as obsolete line folding), a blank line and the body.
fn parse_request(text: &str) -> RawRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let (method, target) = request_line.split_once(' ').expect("method");
    let target = match target.rsplit_once(' ') {
        Some((target, version)) if version.starts_with("HTTP/") => target,
        _ => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("header line");
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    RawRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn read(case: &str, file: &str) -> Option<String> {
    fs::read_to_string(suite_dir().join(case).join(file)).ok()
}

/// The `(key, decoded value)` pairs of a query string.
fn query_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8()
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect()
}

/// The fields of an `Authorization` header.
fn authorization_fields(headers: &HeaderMap) -> HashMap<String, String> {
    let value = headers["authorization"].to_str().unwrap();
    let (_, rest) = value.trim().split_once(' ').unwrap();
    rest.split(',')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Expected {
    canonical_request: String,
    string_to_sign: Option<String>,
    signature: String,
}

/// Rebuilds the canonical request, string to sign and signature of a signed request from the
/// suite with the public canonicalisation functions, in the given URI mode.
fn recompute(
    signed: &RawRequest,
    presigned: bool,
    mode: UriMode,
    omit_session_token: bool,
) -> (String, String, String) {
    let (credential, signed_headers, amz_date, query) = if presigned {
        let query = signed.query.clone().unwrap();
        let pairs = query_pairs(&query);
        let query = if omit_session_token {
            // The token was added after signing: it is not part of the canonical query.
            query
                .split('&')
                .filter(|p| !p.starts_with("X-Amz-Security-Token="))
                .collect::<Vec<_>>()
                .join("&")
        } else {
            query
        };
        (
            pairs["X-Amz-Credential"].clone(),
            pairs["X-Amz-SignedHeaders"].clone(),
            pairs["X-Amz-Date"].clone(),
            query,
        )
    } else {
        let fields = authorization_fields(&signed.headers);
        (
            fields["Credential"].clone(),
            fields["SignedHeaders"].clone(),
            signed.headers["x-amz-date"].to_str().unwrap().to_owned(),
            signed.query.clone().unwrap_or_default(),
        )
    };
    let names: Vec<&str> = signed_headers.split(';').collect();
    let payload_hash = match signed.headers.get("x-amz-content-sha256") {
        Some(v) => v.to_str().unwrap().to_owned(),
        None => sha256_hex(&signed.body),
    };
    let creq = canonical_request(
        &signed.method,
        &canonical_uri(&signed.path, mode),
        &canonical_query(&query, presigned),
        &canonical_headers(&signed.headers, &names),
        &signed_headers,
        &payload_hash,
    );
    let creq = String::from_utf8(creq).unwrap();
    let mut parts = credential.split('/');
    let access_key = parts.next().unwrap();
    let (date, region, service) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let sts = string_to_sign(
        &amz_date,
        &credential_scope(date, region, service),
        creq.as_bytes(),
    );
    let secret = secrets(access_key).unwrap();
    let key = signing_key(&secret, date, region, service);
    (creq, sts.clone(), hex::encode(signature(&key, &sts)))
}

/// The suite's cases that come with a `context.json`.
fn cases() -> Vec<String> {
    let mut cases: Vec<String> = fs::read_dir(suite_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| suite_dir().join(name).join("context.json").exists())
        .collect();
    cases.sort();
    cases
}

fn context_flag(case: &str, flag: &str) -> bool {
    let context = read(case, "context.json").unwrap();
    let compact: String = context.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains(&format!("\"{flag}\":true"))
}

#[test]
fn the_suite_is_present() {
    let cases = cases();
    assert!(cases.len() >= 35, "only {} cases", cases.len());
    for name in [
        "get-vanilla",
        "get-vanilla-query-order-key-case",
        "get-header-value-trim",
        "get-header-key-duplicate",
        "post-x-www-form-urlencoded",
        "get-utf8",
        "get-space-normalized",
        "get-slash-dot-slash-normalized",
    ] {
        assert!(cases.iter().any(|c| c == name), "{name} missing");
    }
}

fn check_case(case: &str, presigned: bool) -> Result<(), String> {
    let prefix = if presigned { "query" } else { "header" };
    let Some(signed_text) = read(case, &format!("{prefix}-signed-request.txt")) else {
        return Ok(()); // A few cases have no presigned form.
    };
    let signed = parse_request(&signed_text);
    let expected = Expected {
        canonical_request: read(case, &format!("{prefix}-canonical-request.txt")).unwrap(),
        string_to_sign: read(case, &format!("{prefix}-string-to-sign.txt")),
        signature: read(case, &format!("{prefix}-signature.txt"))
            .unwrap()
            .trim()
            .to_owned(),
    };
    let suite_mode = UriMode {
        encoding: UriEncoding::Single,
        normalize: context_flag(case, "normalize"),
    };
    let omit_token = context_flag(case, "omit_session_token");
    let (creq, sts, sig) = recompute(&signed, presigned, suite_mode, omit_token);
    if creq != expected.canonical_request {
        return Err(format!(
            "{case} {prefix}: canonical request\n--- ours\n{creq}\n--- expected\n{}",
            expected.canonical_request
        ));
    }
    if let Some(expected_sts) = &expected.string_to_sign
        && &sts != expected_sts
    {
        return Err(format!(
            "{case} {prefix}: string to sign\n{sts}\n!=\n{expected_sts}"
        ));
    }
    if sig != expected.signature {
        return Err(format!(
            "{case} {prefix}: signature {sig} != {}",
            expected.signature
        ));
    }

    // End to end through `verify`, which uses the double-encoding mode for this service.
    let result = verify(&signed.as_signed(), suite_time(), "service", secrets);
    let same_uri = canonical_uri(&signed.path, suite_mode)
        == canonical_uri(&signed.path, UriMode::for_service("service"));
    let token_added_after_signing = presigned && omit_token;
    match result {
        Ok(identity) if same_uri && !token_added_after_signing => {
            assert_eq!(identity.access_key_id, ACCESS_KEY);
            assert_eq!(identity.region, "us-east-1");
            assert_eq!(identity.service, "service");
            Ok(())
        }
        Err(SigV4Error::InvalidSignature) if !same_uri || token_added_after_signing => Ok(()),
        other => Err(format!(
            "{case} {prefix}: verify gave {other:?} (same URI in both modes: {same_uri})"
        )),
    }
}

#[test]
fn header_form_vectors() {
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|case| check_case(case, false).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn presigned_form_vectors() {
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|case| check_case(case, true).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn most_vectors_verify_end_to_end() {
    // Guards against `check_case` accepting everything as "expected to fail".
    let mut verified = 0;
    for case in cases() {
        for prefix in ["header", "query"] {
            if let Some(text) = read(&case, &format!("{prefix}-signed-request.txt")) {
                let signed = parse_request(&text);
                if verify(&signed.as_signed(), suite_time(), "service", secrets).is_ok() {
                    verified += 1;
                }
            }
        }
    }
    eprintln!("{verified} signed requests verified");
    assert!(verified >= 60, "only {verified} signed requests verified");
}

#[test]
fn paths_that_differ_between_the_modes_are_rejected_by_verify() {
    // The suite's signed-request files show some paths decoded; send them as a client would.
    for (case, wire_path) in [
        ("get-space-normalized", "/example%20space/"),
        ("get-slash-unnormalized", "//"),
        ("get-relative-unnormalized", "/example/.."),
    ] {
        let mut signed = parse_request(&read(case, "header-signed-request.txt").unwrap());
        signed.path = wire_path.to_owned();
        assert_eq!(
            verify(&signed.as_signed(), suite_time(), "service", secrets),
            Err(SigV4Error::InvalidSignature),
            "{case}"
        );
    }
}

#[test]
fn double_encode_path_vector() {
    // smithy-rs's case: an API Gateway connection id `JBDvjfGEIAMCERw=` sent as `...%3D` is
    // signed as `...%253D`, and `@` as `%40`.
    let case = "double-encode-path";
    let signed = parse_request(&read(case, "header-signed-request.txt").unwrap());
    let (creq, _, sig) = recompute(&signed, false, UriMode::for_service("service"), false);
    // The vendored canonical request carries another date; compare the URI line.
    let expected = read(case, "header-canonical-request.txt").unwrap();
    assert_eq!(creq.lines().nth(1), expected.lines().nth(1));
    assert_eq!(
        creq.lines().nth(1),
        Some("/test/%40connections/JBDvjfGEIAMCERw%253D")
    );
    assert_eq!(
        sig,
        "57d157672191bac40bae387e48bbe14b15303c001fdbb01f4abf295dccb09705"
    );
    let identity = verify(&signed.as_signed(), suite_time(), "service", secrets).unwrap();
    assert_eq!(identity.access_key_id, TEST_ACCESS_KEY);
}

#[test]
fn double_url_encode_lambda_vector() {
    // A Lambda Invoke of a function given by ARN: `%3A` in the path is signed as `%253A`.
    let case = "double-url-encode";
    let request = parse_request(&read(case, "request.txt").unwrap());
    let mut names = vec!["host", "x-amz-date"];
    names.sort_unstable();
    let creq = canonical_request(
        &request.method,
        &canonical_uri(&request.path, UriMode::for_service("lambda")),
        &canonical_query(request.query.as_deref().unwrap_or_default(), false),
        &canonical_headers(&request.headers, &names),
        &names.join(";"),
        &sha256_hex(&request.body),
    );
    assert_eq!(
        String::from_utf8(creq.clone()).unwrap(),
        read(case, "header-canonical-request.txt").unwrap()
    );
    let sts = string_to_sign(
        "20210511T154045Z",
        &credential_scope("20210511", "us-east-2", "lambda"),
        &creq,
    );
    assert_eq!(
        sts,
        read(case, "header-string-to-sign.txt").unwrap().trim_end()
    );
    let key = signing_key(SECRET, "20210511", "us-east-2", "lambda");
    assert_eq!(
        hex::encode(signature(&key, &sts)),
        "4b93abbcc68be32bd64c18e2c71150660ab4c29bbd6c32a383a7517a88fc1804"
    );
    // And the signed request verifies end to end as a Lambda request.
    let signed = parse_request(&read(case, "header-signed-request.txt").unwrap());
    let now = Utc.with_ymd_and_hms(2021, 5, 11, 15, 40, 45).unwrap();
    let identity = verify(&signed.as_signed(), now, "lambda", secrets).unwrap();
    assert_eq!(identity.region, "us-east-2");
    assert_eq!(
        verify(&signed.as_signed(), now, "service", secrets),
        Err(SigV4Error::WrongService {
            expected: "service".to_owned()
        })
    );
    // Encoding once gives another canonical URI.
    assert_ne!(
        canonical_uri(
            &request.path,
            UriMode {
                encoding: UriEncoding::Single,
                normalize: true
            }
        ),
        canonical_uri(&request.path, UriMode::for_service("lambda"))
    );
}
