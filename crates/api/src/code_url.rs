//! Time-limited download URLs for deployment packages (GetFunction's `Code.Location`).
//!
//! AWS hands out a presigned S3 URL valid for ten minutes. Ignis signs
//! `/_ignis/code/<sha256>?expires=<epoch s>` with an HMAC key of the node, so the URL works
//! without AWS credentials, like the real one, and stops working when it expires.

use crate::ApiState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use hmac::{KeyInit, Mac};
use ignis_package::Digest;
use ignis_wire::LambdaApiError;
use std::sync::Arc;

pub const PREFIX: &str = "/_ignis/code/";
pub const ROUTE: &str = "/_ignis/code/{sha256}";
/// How long a download URL stays valid.
pub const VALIDITY_SECONDS: i64 = 600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Signs and checks code download URLs.
#[derive(Clone)]
pub struct CodeUrlSigner {
    key: Arc<[u8]>,
}

impl CodeUrlSigner {
    pub fn new(key: &[u8]) -> CodeUrlSigner {
        CodeUrlSigner { key: key.into() }
    }

    fn mac(&self, sha256_hex: &str, expires: i64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{sha256_hex}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The path and query of a URL valid until `now + VALIDITY_SECONDS`.
    pub fn path_and_query(&self, sha256_hex: &str, now: i64) -> String {
        let expires = now + VALIDITY_SECONDS;
        format!(
            "{PREFIX}{sha256_hex}?expires={expires}&signature={}",
            self.mac(sha256_hex, expires)
        )
    }

    fn check(&self, sha256_hex: &str, expires: i64, signature: &str, now: i64) -> bool {
        use subtle::ConstantTimeEq;
        now <= expires
            && bool::from(
                self.mac(sha256_hex, expires)
                    .as_bytes()
                    .ct_eq(signature.as_bytes()),
            )
    }
}

pub async fn download(
    State(state): State<ApiState>,
    Path(sha256): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, LambdaApiError> {
    let denied =
        || LambdaApiError::AccessDenied("Request has expired or its signature is invalid".into());
    let q = query.as_deref();
    let expires = crate::request::query_value(q, "expires")
        .and_then(|e| e.parse::<i64>().ok())
        .ok_or_else(denied)?;
    let signature = crate::request::query_value(q, "signature").ok_or_else(denied)?;
    if !state
        .code_urls
        .check(&sha256, expires, &signature, chrono::Utc::now().timestamp())
    {
        return Err(denied());
    }
    let digest = Digest::from_hex(&sha256).ok_or_else(denied)?;
    let bytes = tokio::fs::read(state.code.zip_path(&digest))
        .await
        .map_err(|_| {
            LambdaApiError::ResourceNotFound("The code package no longer exists.".into())
        })?;
    Ok((
        [(http::header::CONTENT_TYPE, "application/zip")],
        Body::from(bytes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_expire_and_are_bound_to_their_hash() {
        let s = CodeUrlSigner::new(b"k");
        let now = 1_000;
        let pq = s.path_and_query("ab", now);
        let sig = pq.rsplit("signature=").next().unwrap();
        assert!(s.check("ab", now + VALIDITY_SECONDS, sig, now));
        assert!(!s.check(
            "ab",
            now + VALIDITY_SECONDS,
            sig,
            now + VALIDITY_SECONDS + 1
        ));
        assert!(!s.check("cd", now + VALIDITY_SECONDS, sig, now));
        assert!(!s.check("ab", now + VALIDITY_SECONDS + 1, sig, now));
    }
}
