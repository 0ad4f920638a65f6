//! Who may call the S3 API, and how a request names its bucket.

use crate::authorize;
use ignis_front::signed;
use ignis_identity::Identity;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopyObjectInput, CopySource, DeleteObjectsInput, UploadPartCopyInput};
use s3s::host::{S3Host, VirtualHost};
use s3s::{S3Request, S3Result, s3_error};

/// Who may call the S3 API: the keys `ignis-identity` knows, each request authorised by its
/// caller's identity-based policies (`authorize`).
#[derive(Clone)]
pub struct Credentials {
    pub identity: Identity,
    /// The region the node serves (where keys are noted as last used).
    pub region: String,
}

#[async_trait::async_trait]
impl S3Auth for Credentials {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.identity.resolve(access_key) {
            Some(key) => Ok(SecretKey::from(key.secret)),
            None => Err(unknown_key()),
        }
    }
}

fn unknown_key() -> s3s::S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Access for Credentials {
    /// After the signature is verified: a temporary key must bring its session token and be
    /// current, and the caller's policies must allow the operation on its bucket or object.
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let key = self
            .identity
            .resolve(&credentials.access_key)
            .ok_or_else(unknown_key)?;
        let sent = signed::session_token(cx.headers(), cx.uri().query());
        match signed::check_token(&key, sent.as_deref(), chrono::Utc::now()) {
            Ok(()) => {}
            Err(signed::AuthError::ExpiredToken) => {
                return Err(s3_error!(ExpiredToken, "The provided token has expired."));
            }
            Err(_) => {
                return Err(s3_error!(
                    InvalidToken,
                    "The provided token is malformed or otherwise invalid."
                ));
            }
        }
        self.identity
            .note_use(&credentials.access_key, "s3", &self.region);
        if key.principal.is_root() {
            return Ok(());
        }
        let caller = authorize::Caller {
            principal: key.principal,
            source_ip: ignis_front::Source::of(cx.extensions_mut()).ip(),
        };
        let operation = cx.s3_op().name();
        // DeleteObjects is authorised key by key once its body is read.
        if operation != "DeleteObjects" {
            let resource = authorize::resource(cx.s3_path());
            authorize::check(
                &self.identity,
                &caller,
                &authorize::action(operation),
                &resource,
            )?;
        }
        cx.extensions_mut().insert(caller);
        Ok(())
    }

    /// A copy reads its source: `s3:GetObject` on it too.
    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        self.source_readable(&req.extensions, &req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        self.source_readable(&req.extensions, &req.input.copy_source)
    }

    /// `s3:DeleteObject` on every key named (the whole request is refused when one is not
    /// allowed).
    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let Some(caller) = req.extensions.get::<authorize::Caller>() else {
            return Ok(());
        };
        let bucket = &req.input.bucket;
        for object in &req.input.delete.objects {
            let resource = authorize::object_arn(bucket, Some(&object.key));
            authorize::check(&self.identity, caller, "s3:DeleteObject", &resource)?;
        }
        Ok(())
    }
}

impl Credentials {
    fn source_readable(&self, extensions: &http::Extensions, source: &CopySource) -> S3Result<()> {
        let Some(caller) = extensions.get::<authorize::Caller>() else {
            return Ok(());
        };
        let (bucket, key) = crate::objects::copy_source(source)?;
        let resource = authorize::object_arn(&bucket, Some(&key));
        authorize::check(&self.identity, caller, "s3:GetObject", &resource)
    }
}

/// Virtual-hosted addressing: `bucket.s3.localhost[:port]` and `bucket.localhost[:port]` name
/// their bucket; any other host (an address, `localhost`, `s3.localhost`) is path-style.
pub struct Hosts;

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match virtual_bucket(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

/// The bucket a `Host` header names, if it is a virtual host.
pub fn virtual_bucket(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let bucket = name
        .strip_suffix(".s3.localhost")
        .or_else(|| name.strip_suffix(".localhost"))?;
    (!bucket.is_empty() && bucket != "s3").then_some(bucket)
}

#[cfg(test)]
mod tests {
    use super::virtual_bucket;

    #[test]
    fn virtual_hosts_name_their_bucket() {
        assert_eq!(virtual_bucket("photos.s3.localhost:9070"), Some("photos"));
        assert_eq!(virtual_bucket("photos.localhost:9070"), Some("photos"));
        assert_eq!(
            virtual_bucket("my.dotted.bucket.s3.localhost"),
            Some("my.dotted.bucket")
        );
        assert_eq!(virtual_bucket("s3.localhost:9070"), None);
        assert_eq!(virtual_bucket("localhost:9070"), None);
        assert_eq!(virtual_bucket("127.0.0.1:9070"), None);
    }
}
