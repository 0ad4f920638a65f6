//! The sequence every SigV4-signed service runs before its handler, once: verify the head
//! (the key resolved by the caller's lookup, the session token a temporary key must come with
//! and its expiry checked), read the body within its bounds — hashing it, and drawing on the
//! unproven-body budget until the sender is proven — and finish the signature on the body's
//! hash. The proven request carries the caller's principal, whatever the service makes of it.
//!
//! S3 verifies with `s3s` instead (its bodies may be `aws-chunked`, every chunk signed).

use crate::{BodyBudget, BodyError, Reservation, Source, read_body};
use axum::body::Body;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::request::Parts;
use ignis_sigv4::{Expected, RequestHead, SigV4Error, Verification};
use sha2::Digest;
use std::cell::RefCell;
use std::time::Duration;

/// The query parameter of a presigned URL that carries a session token.
pub const SECURITY_TOKEN_QUERY: &str = "X-Amz-Security-Token";
/// The header that carries a session token.
pub const SECURITY_TOKEN_HEADER: &str = "x-amz-security-token";

/// What a caller's lookup knows of an access key.
#[derive(Clone)]
pub struct Key<P> {
    pub secret: String,
    /// The session token a temporary key must be sent with.
    pub session_token: Option<String>,
    /// When a temporary key stops being accepted.
    pub expires: Option<DateTime<Utc>>,
    pub principal: P,
}

impl<P: std::fmt::Debug> std::fmt::Debug for Key<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the token.
        f.debug_struct("Key")
            .field("temporary", &self.session_token.is_some())
            .field("expires", &self.expires)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Why a request was not proven.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Signature(#[from] SigV4Error),
    /// A session token that is not the key's (or one sent with a long-term key, or none with a
    /// temporary one).
    #[error("The security token included in the request is invalid.")]
    InvalidToken,
    /// A temporary key past its expiry.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    #[error("body: {0:?}")]
    Body(BodyError),
}

/// A request whose head is verified; [`read`] completes it.
pub struct Head<P> {
    verification: Verification,
    key: Key<P>,
}

impl<P> Head<P> {
    /// Whether the signature is already proven (only the body's hash remains to compare).
    pub fn signature_checked(&self) -> bool {
        self.verification.signature_checked()
    }
}

/// Who a proven request came from.
#[derive(Debug, Clone)]
pub struct Proven<P> {
    pub identity: ignis_sigv4::Identity,
    pub principal: P,
}

/// The session token a request carries, in its header or (presigned) its query.
pub fn session_token(headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers.get(SECURITY_TOKEN_HEADER) {
        return Some(String::from_utf8_lossy(v.as_bytes()).trim().to_string());
    }
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == SECURITY_TOKEN_QUERY).then(|| {
            let bytes = ignis_sigv4::canonical::decode_query_component(v);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

/// Checks the session token `sent` against the key's at `now`.
pub fn check_token<P>(
    key: &Key<P>,
    sent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    match (&key.session_token, sent) {
        (None, None) => Ok(()),
        (Some(expected), Some(sent)) if constant_time_eq(expected, sent) => match key.expires {
            Some(t) if t <= now => Err(AuthError::ExpiredToken),
            _ => Ok(()),
        },
        _ => Err(AuthError::InvalidToken),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Verifies the head of a signed request (`path` as sent) for `expected`, with `resolve`
/// mapping an access key id to what is known of it.
pub fn verify_head<P>(
    parts: &Parts,
    expected: Expected<'_>,
    now: DateTime<Utc>,
    resolve: impl Fn(&str) -> Option<Key<P>>,
) -> Result<Head<P>, AuthError> {
    let head = RequestHead {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    let found: RefCell<Option<Key<P>>> = RefCell::new(None);
    let verification = ignis_sigv4::verify_head(&head, now, expected, |k| {
        let key = resolve(k)?;
        let secret = key.secret.clone();
        *found.borrow_mut() = Some(key);
        Some(secret)
    })?;
    let key = found
        .into_inner()
        .ok_or(AuthError::Signature(SigV4Error::UnrecognizedClient))?;
    check_token(
        &key,
        session_token(&parts.headers, parts.uri.query()).as_deref(),
        now,
    )?;
    Ok(Head { verification, key })
}

/// How a body is read.
#[derive(Clone, Copy)]
pub struct Bounds<'a> {
    pub max_bytes: usize,
    /// How long the body may pause.
    pub idle: Duration,
    /// What bodies not yet proven draw on.
    pub unproven: &'a BodyBudget,
}

/// Reads the body of a request whose head is `head` (`None`: an anonymous caller, whose body
/// is never proven) within `bounds`, and finishes the signature on its hash. The reservation
/// holds the body's share of the unproven-body budget until it is dropped.
pub async fn read<P>(
    head: Option<Head<P>>,
    parts: &Parts,
    body: Body,
    bounds: Bounds<'_>,
) -> Result<(Bytes, Reservation, Option<Proven<P>>), AuthError> {
    let declared = crate::declared_length(&parts.headers);
    let source = Source::of(&parts.extensions);
    let unproven = head.as_ref().is_none_or(|h| !h.signature_checked());
    let budget = unproven.then_some((bounds.unproven, &source));
    let mut hasher = sha2::Sha256::new();
    let (bytes, reservation) = read_body(
        body,
        declared,
        bounds.max_bytes,
        bounds.idle,
        budget,
        |chunk| hasher.update(chunk),
    )
    .await
    .map_err(AuthError::Body)?;
    let proven = match head {
        None => None,
        Some(Head { verification, key }) => {
            let identity = verification.finish(&hex::encode(hasher.finalize()))?;
            Some(Proven {
                identity,
                principal: key.principal,
            })
        }
    };
    Ok((bytes, reservation, proven))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: Option<&str>, expires_in: i64) -> Key<()> {
        Key {
            secret: "s".into(),
            session_token: token.map(str::to_string),
            expires: token.map(|_| Utc::now() + chrono::Duration::seconds(expires_in)),
            principal: (),
        }
    }

    #[test]
    fn temporary_keys_need_their_token_and_expire() {
        let now = Utc::now();
        assert!(check_token(&key(None, 0), None, now).is_ok());
        assert!(matches!(
            check_token(&key(None, 0), Some("t"), now),
            Err(AuthError::InvalidToken)
        ));
        assert!(check_token(&key(Some("t"), 60), Some("t"), now).is_ok());
        assert!(matches!(
            check_token(&key(Some("t"), 60), None, now),
            Err(AuthError::InvalidToken)
        ));
        assert!(matches!(
            check_token(&key(Some("t"), 60), Some("u"), now),
            Err(AuthError::InvalidToken)
        ));
        // A fake clock past the expiry.
        let later = now + chrono::Duration::seconds(61);
        assert!(matches!(
            check_token(&key(Some("t"), 60), Some("t"), later),
            Err(AuthError::ExpiredToken)
        ));
    }

    #[test]
    fn the_token_comes_from_the_header_or_a_presigned_query() {
        let req = http::Request::builder()
            .uri("/x?X-Amz-Security-Token=a%2Fb%3D&y=1")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        assert_eq!(
            session_token(&parts.headers, parts.uri.query()).as_deref(),
            Some("a/b=")
        );
        let req = http::Request::builder()
            .uri("/x")
            .header("X-Amz-Security-Token", "tok")
            .body(())
            .unwrap();
        let parts = req.into_parts().0;
        assert_eq!(session_token(&parts.headers, None).as_deref(), Some("tok"));
    }
}
