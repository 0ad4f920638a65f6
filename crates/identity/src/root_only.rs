//! The road of a service that does not evaluate policies yet: a request signed for it, proven,
//! and from the account's root user; every other principal is refused.

use crate::Identity;
use ignis_front::signed::{self, AuthError, Bounds};

/// Why [`Identity::authenticate_root`] turned a request away.
#[derive(Debug)]
pub enum Refusal {
    /// Not proven: the signature, the session token or the body.
    Unproven(AuthError),
    /// Proven, but not the root user: the message of the service's AccessDenied.
    NotRoot(String),
}

impl Identity {
    /// Verifies a request signed for `expected`, reads its body within `bounds`, notes the
    /// key's use and lets only the account's root user through (`name`: the service as the
    /// refusal names it). Answers the body and the signer's access key id.
    pub async fn authenticate_root(
        &self,
        parts: &http::request::Parts,
        body: axum::body::Body,
        expected: ignis_sigv4::Expected<'_>,
        name: &str,
        bounds: Bounds<'_>,
    ) -> Result<(bytes::Bytes, String), Refusal> {
        let head = signed::verify_head(parts, expected, chrono::Utc::now(), |k| self.resolve(k))
            .map_err(Refusal::Unproven)?;
        let (bytes, reservation, proven) = signed::read(Some(head), parts, body, bounds)
            .await
            .map_err(Refusal::Unproven)?;
        drop(reservation);
        let proven = proven.expect("a request with a verified head is proven once read");
        let key = proven.identity.access_key_id;
        self.note_use(&key, expected.service, expected.region.unwrap_or_default());
        if !self.acts_as_root(&proven.principal) {
            return Err(Refusal::NotRoot(
                proven.principal.refusal_until_policies(name),
            ));
        }
        Ok((bytes, key))
    }
}
