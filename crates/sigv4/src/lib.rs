//! AWS Signature Version 4 for Ignis.
//!
//! This crate owns request authentication: [`verify`] checks a request signed by the AWS CLI,
//! boto3 or any AWS SDK (the `Authorization` header form and presigned URLs) against the
//! caller's secret keys and answers with the caller's [`Identity`] or a [`SigV4Error`] that
//! carries AWS's error type and message. [`sign`] is the matching client-side signer for Ignis's
//! own tools. Both build the canonical request with the same code, in [`canonical`].
//!
//! What AWS does and so does this crate:
//! - the canonical URI is the path as sent, dot segments removed, percent-encoded a second time
//!   (`%3A` is signed as `%253A`), except for service `s3`, where it is encoded once and not
//!   normalised;
//! - query keys and values are decoded, re-encoded and sorted; `X-Amz-Signature` is left out;
//! - only the headers in `SignedHeaders` are used, and `host` must be one of them;
//! - the payload hash is the `x-amz-content-sha256` header when sent (`UNSIGNED-PAYLOAD` is
//!   allowed; a digest must match the body), otherwise the SHA-256 of the body (presigned S3 URLs
//!   use `UNSIGNED-PAYLOAD`);
//! - the credential scope must name the expected service and, when the caller gives one
//!   ([`Expected::region`]), its region (AWS's words: "Credential should be scoped to a valid
//!   region");
//! - [`verify_head`] decides from the head alone whenever it can, so a server reads no body of an
//!   unsigned or wrongly signed request; only a signature over the body's own hash waits for the
//!   body ([`Verification::finish`]);
//! - the request time may be 15 minutes off the server's clock either way; presigned URLs are
//!   good for `X-Amz-Expires` seconds;
//! - signatures are compared in constant time; signing keys are cached per key id, date, region
//!   and service ([`SigningKeyCache`]).

pub mod canonical;
mod error;
mod parse;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::ConstantTimeEq;

use canonical::{
    ALGORITHM, UNSIGNED_PAYLOAD, UriMode, canonical_headers, canonical_query, canonical_request,
    canonical_uri, credential_scope, encode_path, normalize_path_botocore, sha256_hex, signature,
    signing_key, string_to_sign,
};
pub use error::SigV4Error;
use parse::{AMZ_DATE_FORMAT, AuthParams, MAX_EXPIRES_SECS};

/// How far the request time may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);

/// Everything of the HTTP request the verifier needs. `path` and `query` are exactly as sent on
/// the wire (still percent-encoded).
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The request path as sent, e.g. `/2015-03-31/functions/arn%3Aaws%3A...`.
    pub path: &'a str,
    /// The query string as sent, without the `?`.
    pub query: Option<&'a str>,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The whole request body.
    pub body: &'a [u8],
}

/// Who signed a request, and the scope they signed it for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The region from the credential scope (checked against [`Expected::region`] when given).
    pub region: String,
    /// The service from the credential scope (always the expected one).
    pub service: String,
}

/// A small bounded cache of derived signing keys, keyed by access key id, date, region and
/// service. An entry is used only if it was derived from the same secret, so a rotated secret
/// is picked up at once.
#[derive(Debug)]
pub struct SigningKeyCache {
    entries: Mutex<HashMap<CacheKey, CacheEntry>>,
    capacity: usize,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

struct CacheEntry {
    secret: String,
    key: [u8; 32],
}

impl std::fmt::Debug for CacheEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheEntry(..)")
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (it is emptied when full). A capacity of 0
    /// disables caching.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The signing key for `secret` and the scope, from the cache or freshly derived.
    pub fn signing_key(
        &self,
        access_key_id: &str,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        if self.capacity == 0 {
            return signing_key(secret, date, region, service);
        }
        let cache_key = CacheKey {
            access_key_id: access_key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        };
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = entries.get(&cache_key)
                && bool::from(entry.secret.as_bytes().ct_eq(secret.as_bytes()))
            {
                return entry.key;
            }
        }
        let key = signing_key(secret, date, region, service);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&cache_key) {
            entries.clear();
        }
        entries.insert(
            cache_key,
            CacheEntry {
                secret: secret.to_owned(),
                key,
            },
        );
        key
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SigningKeyCache {
    /// A cache of 1024 keys.
    fn default() -> Self {
        Self::new(1024)
    }
}

static DEFAULT_CACHE: LazyLock<SigningKeyCache> = LazyLock::new(SigningKeyCache::default);

/// Verifies the SigV4 signature of `req` at time `now` for `expected_service` (e.g. `lambda`),
/// whatever region its credential scope names.
///
/// `secret_for` maps an access key id to its secret access key, or `None` if the key is unknown.
/// Uses a process-wide [`SigningKeyCache`]; see [`verify_with_cache`] to bring your own.
pub fn verify(
    req: &SignedRequest<'_>,
    now: DateTime<Utc>,
    expected_service: &str,
    secret_for: impl Fn(&str) -> Option<String>,
) -> Result<Identity, SigV4Error> {
    verify_with_cache(req, now, expected_service, secret_for, &DEFAULT_CACHE)
}

/// [`verify`] with the given signing-key cache.
pub fn verify_with_cache(
    req: &SignedRequest<'_>,
    now: DateTime<Utc>,
    expected_service: &str,
    secret_for: impl Fn(&str) -> Option<String>,
    cache: &SigningKeyCache,
) -> Result<Identity, SigV4Error> {
    let head = RequestHead {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: req.headers,
    };
    let expected = Expected {
        service: expected_service,
        region: None,
    };
    verify_head_with_cache(&head, now, expected, secret_for, cache)?.finish(&sha256_hex(req.body))
}

/// Verifies everything of a request's signature that its head (method, path, query, headers)
/// decides, before any of its body is read: an unsigned, malformed, expired or wrongly scoped
/// request, or an unknown key, fails here. When the request declares its payload's hash
/// (`x-amz-content-sha256`, or a presigned URL's `UNSIGNED-PAYLOAD`) the signature itself is
/// checked too; otherwise it covers the body's hash and is checked by [`Verification::finish`].
pub fn verify_head(
    head: &RequestHead<'_>,
    now: DateTime<Utc>,
    expected: Expected<'_>,
    secret_for: impl Fn(&str) -> Option<String>,
) -> Result<Verification, SigV4Error> {
    verify_head_with_cache(head, now, expected, secret_for, &DEFAULT_CACHE)
}

/// [`verify_head`] with the given signing-key cache.
pub fn verify_head_with_cache(
    head: &RequestHead<'_>,
    now: DateTime<Utc>,
    expected: Expected<'_>,
    secret_for: impl Fn(&str) -> Option<String>,
    cache: &SigningKeyCache,
) -> Result<Verification, SigV4Error> {
    let auth = parse::auth_params(head.headers, head.query)?;
    if auth.service != expected.service {
        return Err(SigV4Error::WrongService {
            expected: expected.service.to_owned(),
        });
    }
    if let Some(region) = expected.region
        && auth.region != region
    {
        return Err(SigV4Error::WrongRegion {
            region: auth.region.clone(),
        });
    }
    let request_date = &auth.amz_date[..8];
    if auth.scope_date != request_date {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: auth.scope_date.clone(),
            request_date: request_date.to_owned(),
            request_time: auth.amz_date.clone(),
        });
    }
    check_time(&auth, now)?;
    let secret = secret_for(&auth.access_key_id).ok_or(SigV4Error::UnrecognizedClient)?;

    let presigned = auth.presigned.is_some();
    let content_sha256 = head
        .headers
        .get("x-amz-content-sha256")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
    if let Some(value) = &content_sha256
        && value != UNSIGNED_PAYLOAD
        && !is_sha256_hex(value)
    {
        return Err(SigV4Error::IncompleteSignature(format!(
            "x-amz-content-sha256 must be '{UNSIGNED_PAYLOAD}' or the hex SHA-256 of the payload, got '{value}'."
        )));
    }
    let declared: Option<String> = match content_sha256 {
        Some(value) => Some(value),
        None if presigned && auth.service == "s3" => Some(UNSIGNED_PAYLOAD.to_owned()),
        None => None,
    };

    let key = cache.signing_key(
        &auth.access_key_id,
        &secret,
        &auth.scope_date,
        &auth.region,
        &auth.service,
    );
    let Some(provided) = decode_signature(&auth.signature) else {
        return Err(SigV4Error::InvalidSignature);
    };
    let mode = UriMode::for_service(&auth.service);
    let mut uris = vec![canonical_uri(head.path, mode)];
    if mode.normalize && (head.path.ends_with("/.") || head.path.ends_with("/..")) {
        // botocore keeps no trailing slash after a final dot segment; accept its form too.
        let alternative = encode_path(&normalize_path_botocore(head.path), mode.encoding);
        if alternative != uris[0] {
            uris.push(alternative);
        }
    }
    let c = Canonical::of(head, &auth);
    let signed = SignedParts {
        key,
        provided,
        method: head.method.to_owned(),
        uris,
        query: c.query,
        headers_block: c.headers_block,
        signed_headers: c.signed_headers,
        scope: c.scope,
        amz_date: auth.amz_date,
    };
    let identity = Identity {
        access_key_id: auth.access_key_id,
        region: auth.region,
        service: auth.service,
    };
    let pending = match declared {
        Some(payload_hash) => {
            if !signed.matches(&payload_hash) {
                return Err(SigV4Error::InvalidSignature);
            }
            Pending::Declared(payload_hash)
        }
        None => Pending::BodyHash(Box::new(signed)),
    };
    Ok(Verification { identity, pending })
}

/// A signed request as the server reads it: what S3 shows a caller whose signature did not match
/// (`SignatureDoesNotMatch` carries the string to sign and canonical request it computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub access_key_id: String,
    /// The hex signature the request carried.
    pub signature_provided: String,
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// The canonical request and string to sign the server computes for a signed request whose
/// payload hash it declares (`x-amz-content-sha256`, or a presigned URL's `UNSIGNED-PAYLOAD`);
/// `None` when the request carries no readable signature.
pub fn describe(head: &RequestHead<'_>) -> Option<Described> {
    let auth = parse::auth_params(head.headers, head.query).ok()?;
    let payload_hash = match head.headers.get("x-amz-content-sha256") {
        Some(v) => String::from_utf8_lossy(v.as_bytes()).trim().to_owned(),
        None if auth.presigned.is_some() => UNSIGNED_PAYLOAD.to_owned(),
        None => return None,
    };
    let c = Canonical::of(head, &auth);
    let creq = canonical_request(
        head.method,
        &canonical_uri(head.path, UriMode::for_service(&auth.service)),
        &c.query,
        &c.headers_block,
        &c.signed_headers,
        &payload_hash,
    );
    Some(Described {
        string_to_sign: string_to_sign(&auth.amz_date, &c.scope, &creq),
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        access_key_id: auth.access_key_id,
        signature_provided: auth.signature,
    })
}

/// The head of a request to verify. `path` and `query` are exactly as sent on the wire (still
/// percent-encoded).
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The request path as sent.
    pub path: &'a str,
    /// The query string as sent, without the `?`.
    pub query: Option<&'a str>,
    /// All request headers.
    pub headers: &'a HeaderMap,
}

/// The credential scope a request must name.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The service this endpoint serves, e.g. `lambda`.
    pub service: &'a str,
    /// The region this endpoint serves; `None` accepts any.
    pub region: Option<&'a str>,
}

/// A request whose head passed [`verify_head`]; [`Verification::finish`] completes it with the
/// SHA-256 of the body that arrived.
#[derive(Debug)]
pub struct Verification {
    identity: Identity,
    pending: Pending,
}

#[derive(Debug)]
enum Pending {
    /// The signature covered this declared payload hash (or `UNSIGNED-PAYLOAD`) and matched.
    Declared(String),
    /// The signature covers the body's hash, not known yet.
    BodyHash(Box<SignedParts>),
}

/// The parts of the canonical request (and the scope) that follow from the head alone.
struct Canonical {
    query: String,
    headers_block: Vec<u8>,
    signed_headers: String,
    scope: String,
}

impl Canonical {
    fn of(head: &RequestHead<'_>, auth: &AuthParams) -> Canonical {
        Canonical {
            query: canonical_query(head.query.unwrap_or_default(), auth.presigned.is_some()),
            headers_block: canonical_headers(head.headers, &auth.signed_headers),
            signed_headers: auth.signed_headers.join(";"),
            scope: credential_scope(&auth.scope_date, &auth.region, &auth.service),
        }
    }
}

/// Everything of the canonical request but the payload hash.
struct SignedParts {
    key: [u8; 32],
    provided: [u8; 32],
    method: String,
    /// The canonical URI, and botocore's alternative form of it when it differs.
    uris: Vec<String>,
    query: String,
    headers_block: Vec<u8>,
    signed_headers: String,
    scope: String,
    amz_date: String,
}

impl std::fmt::Debug for SignedParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedParts(..)")
    }
}

impl SignedParts {
    fn matches(&self, payload_hash: &str) -> bool {
        self.uris.iter().any(|uri| {
            let creq = canonical_request(
                &self.method,
                uri,
                &self.query,
                &self.headers_block,
                &self.signed_headers,
                payload_hash,
            );
            let expected = signature(
                &self.key,
                &string_to_sign(&self.amz_date, &self.scope, &creq),
            );
            bool::from(expected.ct_eq(&self.provided))
        })
    }
}

impl Verification {
    /// Whether the signature is already proven, so that only the body's hash remains to be
    /// compared; otherwise nothing about the caller is proven until [`Verification::finish`].
    pub fn signature_checked(&self) -> bool {
        matches!(self.pending, Pending::Declared(_))
    }

    /// Who signed it (proven only once [`Verification::signature_checked`] or
    /// [`Verification::finish`] says so).
    pub fn claimed(&self) -> &Identity {
        &self.identity
    }

    /// Completes the verification with the hex SHA-256 of the body that arrived.
    pub fn finish(self, body_sha256_hex: &str) -> Result<Identity, SigV4Error> {
        match self.pending {
            Pending::Declared(declared) => {
                if declared != UNSIGNED_PAYLOAD && !declared.eq_ignore_ascii_case(body_sha256_hex) {
                    return Err(SigV4Error::PayloadHashMismatch);
                }
            }
            Pending::BodyHash(signed) => {
                if !signed.matches(body_sha256_hex) {
                    return Err(SigV4Error::InvalidSignature);
                }
            }
        }
        Ok(self.identity)
    }
}

fn check_time(auth: &AuthParams, now: DateTime<Utc>) -> Result<(), SigV4Error> {
    let fmt = |t: DateTime<Utc>| t.format(AMZ_DATE_FORMAT).to_string();
    if auth.request_time > now + MAX_CLOCK_SKEW {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request_time: auth.amz_date.clone(),
            latest: fmt(now + MAX_CLOCK_SKEW),
            now: fmt(now),
        });
    }
    let (window, window_text) = match auth.presigned {
        Some(Some(expires)) => (
            // At most a week: checked when parsing.
            Duration::seconds(expires.min(MAX_EXPIRES_SECS) as i64),
            format!("{expires} sec."),
        ),
        _ => (MAX_CLOCK_SKEW, "15 min.".to_owned()),
    };
    if auth.request_time < now - window {
        return Err(SigV4Error::SignatureExpired {
            request_time: auth.amz_date.clone(),
            earliest: fmt(now - window),
            now: fmt(now),
            window: window_text,
        });
    }
    Ok(())
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn decode_signature(hex_signature: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_signature, &mut out).ok()?;
    Some(out)
}

/// Signs a request for Ignis's own clients and returns the headers to add to it: `x-amz-date`,
/// `x-amz-content-sha256` (for service `s3` only, when not already present) and
/// `authorization`. Insert them, replacing any header of the same name.
///
/// `path` and `query` are as they will be sent (percent-encoded). `headers` must contain the
/// `host` header the request will carry. Signed are `host`, `x-amz-date`, `content-type` when
/// present and every `x-amz-*` header present (so a `x-amz-security-token` is signed too).
///
/// # Panics
///
/// If `access_key_id`, `region` or `service` contain characters not allowed in a header value.
#[allow(clippy::too_many_arguments)] // The signature is fixed by the API crate.
pub fn sign(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
) -> Vec<(HeaderName, HeaderValue)> {
    let amz_date = now.format(AMZ_DATE_FORMAT).to_string();
    let date = &amz_date[..8];
    let x_amz_date = HeaderName::from_static("x-amz-date");
    let content_sha256 = HeaderName::from_static("x-amz-content-sha256");

    let mut all = headers.clone();
    let date_value = HeaderValue::from_str(&amz_date).expect("a formatted date is ASCII");
    all.insert(x_amz_date.clone(), date_value.clone());
    let mut out = vec![(x_amz_date, date_value)];

    let payload_hash = match all.get(&content_sha256) {
        Some(value) => String::from_utf8_lossy(value.as_bytes()).trim().to_owned(),
        None => {
            let hash = sha256_hex(body);
            if service == "s3" {
                let value = HeaderValue::from_str(&hash).expect("a hex digest is ASCII");
                all.insert(content_sha256.clone(), value.clone());
                out.push((content_sha256, value));
            }
            hash
        }
    };

    let mut names: Vec<&str> = all
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| *n == "host" || *n == "content-type" || n.starts_with("x-amz-"))
        .collect();
    if !names.contains(&"host") {
        names.push("host");
    }
    names.sort_unstable();
    let signed_headers = names.join(";");

    let creq = canonical_request(
        method,
        &canonical_uri(path, UriMode::for_service(service)),
        &canonical_query(query.unwrap_or_default(), false),
        &canonical_headers(&all, &names),
        &signed_headers,
        &payload_hash,
    );
    let scope = credential_scope(date, region, service);
    let key = DEFAULT_CACHE.signing_key(access_key_id, secret, date, region, service);
    let sig = signature(&key, &string_to_sign(&amz_date, &scope, &creq));
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={}",
        hex::encode(sig)
    );
    out.push((
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&authorization)
            .expect("access key id, region and service must be valid header characters"),
    ));
    out
}
