//! Who may call the S3 API, and how a request names its bucket.

use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::{S3Result, s3_error};
use std::sync::Arc;

/// The secret key of an access key id, if the key exists.
pub type SecretLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Looks up the secret key of an access key id (the node's root credentials today).
#[derive(Clone)]
pub struct Credentials(pub Arc<SecretLookup>);

#[async_trait::async_trait]
impl S3Auth for Credentials {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match (self.0)(access_key) {
            Some(secret) => Ok(SecretKey::from(secret)),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
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
