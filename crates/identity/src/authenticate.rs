//! The road of a request signed for a service that reads its whole body before serving it
//! (SQS, CloudWatch Logs, CloudWatch): the head verified, the body read within its bounds and
//! the signature finished on it, the key's use noted, and the proven caller handed back for
//! the service to authorise each operation ([`Identity::check`]).

use crate::{Identity, Principal};
use ignis_front::signed::{self, AuthError, Bounds};

/// A request whose signature is proven.
#[derive(Debug)]
pub struct Authenticated {
    pub body: bytes::Bytes,
    /// The access key id it was signed with.
    pub key_id: String,
    pub principal: Principal,
    /// The caller's address (`aws:SourceIp`).
    pub source_ip: std::net::IpAddr,
}

impl Identity {
    /// Verifies a request signed for `expected`, reads its body within `bounds` and notes the
    /// key's use.
    pub async fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: axum::body::Body,
        expected: ignis_sigv4::Expected<'_>,
        bounds: Bounds<'_>,
    ) -> Result<Authenticated, AuthError> {
        let head = signed::verify_head(parts, expected, chrono::Utc::now(), |k| self.resolve(k))?;
        let (bytes, reservation, proven) = signed::read(Some(head), parts, body, bounds).await?;
        drop(reservation);
        let proven = proven.expect("a request with a verified head is proven once read");
        let key_id = proven.identity.access_key_id;
        self.note_use(
            &key_id,
            expected.service,
            expected.region.unwrap_or_default(),
        );
        Ok(Authenticated {
            body: bytes,
            key_id,
            principal: proven.principal,
            source_ip: ignis_front::Source::of(&parts.extensions).ip(),
        })
    }
}
