//! Receiving an upload's body into a blob: streamed in bounded chunks, within S3's size limit,
//! hashed (MD5 for the ETag, and the checksum the client asked for) as it arrives, and checked
//! against the Content-MD5 and checksum the client sent — in headers or in the trailer of an
//! `aws-chunked` body — before it is committed.

use crate::blobs::{Blob, Blobs};
use crate::errors::{from_io, internal, s3};
use crate::{BODY_IDLE_TIMEOUT, MAX_PUT_BYTES};
use base64::Engine as _;
use futures_util::StreamExt;
use ignis_store::Checksum;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{ChecksumAlgorithm, StreamingBlob};
use s3s::{S3Error, S3ErrorCode, TrailingHeaders, s3_error};

/// The checksums a request declared: in headers, and the algorithm it named (by
/// `x-amz-checksum-algorithm`/`x-amz-sdk-checksum-algorithm`, or by naming its trailer in
/// `x-amz-trailer`).
#[derive(Debug, Default, Clone)]
pub struct Declared {
    pub content_md5: Option<String>,
    pub algorithm: Option<String>,
    /// The values sent in `x-amz-checksum-*` headers.
    pub checksums: s3s::dto::Checksum,
}

/// A received, committed body.
#[derive(Debug)]
pub struct Received {
    pub blob: Blob,
    pub checksum: Option<Checksum>,
}

/// A checksum algorithm S3 supports: its name, its value in an s3s checksum set, and how s3s's
/// hasher is asked for it.
struct Algorithm {
    name: &'static str,
    value: fn(&s3s::dto::Checksum) -> &Option<String>,
    value_mut: fn(&mut s3s::dto::Checksum) -> &mut Option<String>,
    hash: fn(&mut ChecksumHasher),
}

/// Every algorithm, one row each, in the order a trailer is searched for them.
const ALGORITHMS: [Algorithm; 5] = [
    Algorithm {
        name: "CRC32",
        value: |c| &c.checksum_crc32,
        value_mut: |c| &mut c.checksum_crc32,
        hash: |h| h.crc32 = Some(Default::default()),
    },
    Algorithm {
        name: "CRC32C",
        value: |c| &c.checksum_crc32c,
        value_mut: |c| &mut c.checksum_crc32c,
        hash: |h| h.crc32c = Some(Default::default()),
    },
    Algorithm {
        name: "SHA1",
        value: |c| &c.checksum_sha1,
        value_mut: |c| &mut c.checksum_sha1,
        hash: |h| h.sha1 = Some(Default::default()),
    },
    Algorithm {
        name: "SHA256",
        value: |c| &c.checksum_sha256,
        value_mut: |c| &mut c.checksum_sha256,
        hash: |h| h.sha256 = Some(Default::default()),
    },
    Algorithm {
        name: "CRC64NVME",
        value: |c| &c.checksum_crc64nvme,
        value_mut: |c| &mut c.checksum_crc64nvme,
        hash: |h| h.crc64nvme = Some(Default::default()),
    },
];

impl Algorithm {
    /// The algorithm of that (upper-case) name.
    fn named(name: &str) -> Option<&'static Algorithm> {
        ALGORITHMS.iter().find(|a| a.name == name)
    }
}

impl Declared {
    /// The one algorithm whose checksum is kept with the object: the one named, else the one
    /// whose value was sent.
    fn chosen(&self) -> Result<Option<&'static Algorithm>, S3Error> {
        if let Some(named) = &self.algorithm {
            return match Algorithm::named(&named.to_ascii_uppercase()) {
                Some(a) => Ok(Some(a)),
                None => Err(s3_error!(
                    InvalidRequest,
                    "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
                )),
            };
        }
        let sent: Vec<&'static Algorithm> = ALGORITHMS
            .iter()
            .filter(|a| (a.value)(&self.checksums).is_some())
            .collect();
        match sent.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            )),
        }
    }
}

fn hasher_for(algorithm: Option<&Algorithm>) -> ChecksumHasher {
    let mut h = ChecksumHasher::default();
    if let Some(a) = algorithm {
        (a.hash)(&mut h);
    }
    h
}

/// Streams `body` into a new blob and checks it; a body that fails any check leaves nothing.
pub async fn receive(
    blobs: &Blobs,
    body: Option<StreamingBlob>,
    declared_length: Option<i64>,
    mut declared: Declared,
    trailers: Option<TrailingHeaders>,
) -> Result<Received, S3Error> {
    if declared_length.is_some_and(|n| n as u64 > MAX_PUT_BYTES) {
        return Err(s3(S3ErrorCode::EntityTooLarge));
    }
    if let Some(n) = declared_length
        && !blobs.has_room(n as u64)
    {
        return Err(from_io(blobs.full()));
    }
    let mut algorithm = declared.chosen()?;
    let mut hasher = hasher_for(algorithm);
    let mut writer = blobs.create().await.map_err(internal)?;
    if let Some(mut body) = body {
        loop {
            let next = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.next()).await;
            let chunk = match next {
                Err(_) => {
                    writer.discard().await;
                    return Err(s3_error!(
                        RequestTimeout,
                        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
                    ));
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    writer.discard().await;
                    tracing::debug!(error = %e, "upload body broken");
                    return Err(s3(S3ErrorCode::IncompleteBody));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            if writer.len() + chunk.len() as u64 > MAX_PUT_BYTES {
                writer.discard().await;
                return Err(s3(S3ErrorCode::EntityTooLarge));
            }
            hasher.update(&chunk);
            if let Err(e) = writer.write(chunk).await {
                writer.discard().await;
                return Err(from_io(e));
            }
        }
    }
    if declared_length.is_some_and(|n| n as u64 != writer.len()) {
        writer.discard().await;
        return Err(s3(S3ErrorCode::IncompleteBody));
    }
    if let Some(headers) = trailers.and_then(|t| t.take()) {
        for a in &ALGORITHMS {
            let name = format!("x-amz-checksum-{}", a.name.to_ascii_lowercase());
            if let Some(v) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                *(a.value_mut)(&mut declared.checksums) = Some(v.to_string());
                algorithm.get_or_insert(a);
            }
        }
    }
    let sums = hasher.finalize();
    let checksum = match algorithm {
        None => None,
        Some(a) => {
            let value = (a.value)(&sums).clone().unwrap_or_default();
            if let Some(sent) = (a.value)(&declared.checksums)
                && *sent != value
            {
                writer.discard().await;
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        a.name
                    ),
                ));
            }
            Some(Checksum {
                algorithm: a.name.to_string(),
                value,
                kind: "FULL_OBJECT".into(),
            })
        }
    };
    let blob = writer.commit().await.map_err(internal)?;
    if let Some(md5) = &declared.content_md5 {
        let sent = base64::engine::general_purpose::STANDARD.decode(md5);
        match sent {
            Ok(sent) if sent == blob.md5 => {}
            Ok(_) => {
                blobs.remove([blob.id.clone()]).await;
                return Err(s3(S3ErrorCode::BadDigest));
            }
            Err(_) => {
                blobs.remove([blob.id.clone()]).await;
                return Err(s3_error!(
                    InvalidDigest,
                    "The Content-MD5 you specified was invalid."
                ));
            }
        }
    }
    Ok(Received { blob, checksum })
}

/// The value of one checksum algorithm in an s3s checksum set.
pub fn checksum_fields(checksum: Option<&Checksum>) -> s3s::dto::Checksum {
    let mut out = s3s::dto::Checksum::default();
    if let Some(c) = checksum
        && let Some(a) = Algorithm::named(&c.algorithm)
    {
        *(a.value_mut)(&mut out) = Some(c.value.clone());
    }
    out
}

/// An algorithm as s3s names it.
pub fn algorithm(name: &str) -> ChecksumAlgorithm {
    ChecksumAlgorithm::from(name.to_string())
}

/// The algorithm a request's `x-amz-trailer` header names (`x-amz-checksum-crc32` → `CRC32`).
pub fn trailer_algorithm(headers: &http::HeaderMap) -> Option<String> {
    let named = headers.get("x-amz-trailer")?.to_str().ok()?;
    let algorithm = named.trim().to_ascii_lowercase();
    let algorithm = algorithm.strip_prefix("x-amz-checksum-")?;
    Some(algorithm.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The algorithms whose value is set in `sums`.
    fn set_in(sums: &s3s::dto::Checksum) -> Vec<&'static str> {
        ALGORITHMS
            .iter()
            .filter(|a| (a.value)(sums).is_some())
            .map(|a| a.name)
            .collect()
    }

    #[test]
    fn each_algorithm_is_found_by_its_name_and_owns_one_field() {
        for a in &ALGORITHMS {
            assert_eq!(Algorithm::named(a.name).map(|n| n.name), Some(a.name));
            let stored = Checksum {
                algorithm: a.name.into(),
                value: "v".into(),
                kind: "FULL_OBJECT".into(),
            };
            let sums = checksum_fields(Some(&stored));
            assert_eq!(set_in(&sums), [a.name]);
            assert_eq!((a.value)(&sums).as_deref(), Some("v"));
        }
        assert!(Algorithm::named("crc32").is_none());
        assert!(checksum_fields(None) == s3s::dto::Checksum::default());
    }

    #[test]
    fn each_hasher_fills_its_own_field() {
        for a in &ALGORITHMS {
            let mut h = hasher_for(Some(a));
            h.update(b"abc");
            assert_eq!(set_in(&h.finalize()), [a.name]);
        }
        assert!(set_in(&hasher_for(None).finalize()).is_empty());
    }

    #[test]
    fn one_algorithm_is_chosen() {
        let named = |n: &str| Declared {
            algorithm: Some(n.into()),
            ..Default::default()
        };
        assert_eq!(
            named("sha256").chosen().unwrap().map(|a| a.name),
            Some("SHA256")
        );
        assert!(named("MD5").chosen().is_err());
        let mut sent = Declared::default();
        assert!(sent.chosen().unwrap().is_none());
        sent.checksums.checksum_crc32c = Some("x".into());
        assert_eq!(sent.chosen().unwrap().map(|a| a.name), Some("CRC32C"));
        sent.checksums.checksum_sha1 = Some("y".into());
        assert!(sent.chosen().is_err());
    }
}
