//! Receiving an upload's body into a blob: streamed in bounded chunks, within S3's size limit,
//! hashed (MD5 for the ETag, and the checksum the client asked for) as it arrives, and checked
//! against the Content-MD5 and checksum the client sent — in headers or in the trailer of an
//! `aws-chunked` body — before it is committed.

use crate::blobs::{Blob, Blobs};
use crate::errors::{internal, s3};
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
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub crc64nvme: Option<String>,
}

/// A received, committed body.
#[derive(Debug)]
pub struct Received {
    pub blob: Blob,
    pub checksum: Option<Checksum>,
}

const ALGORITHMS: [&str; 5] = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"];

impl Declared {
    fn value(&self, algorithm: &str) -> Option<&String> {
        match algorithm {
            "CRC32" => self.crc32.as_ref(),
            "CRC32C" => self.crc32c.as_ref(),
            "SHA1" => self.sha1.as_ref(),
            "SHA256" => self.sha256.as_ref(),
            "CRC64NVME" => self.crc64nvme.as_ref(),
            _ => None,
        }
    }

    fn set(&mut self, algorithm: &str, value: String) {
        match algorithm {
            "CRC32" => self.crc32 = Some(value),
            "CRC32C" => self.crc32c = Some(value),
            "SHA1" => self.sha1 = Some(value),
            "SHA256" => self.sha256 = Some(value),
            "CRC64NVME" => self.crc64nvme = Some(value),
            _ => {}
        }
    }

    /// The one algorithm whose checksum is kept with the object: the one named, else the one
    /// whose value was sent.
    fn chosen(&self) -> Result<Option<&'static str>, S3Error> {
        if let Some(named) = &self.algorithm {
            let upper = named.to_ascii_uppercase();
            return match ALGORITHMS.iter().find(|a| **a == upper) {
                Some(a) => Ok(Some(*a)),
                None => Err(s3_error!(
                    InvalidRequest,
                    "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
                )),
            };
        }
        let sent: Vec<&'static str> = ALGORITHMS
            .iter()
            .copied()
            .filter(|a| self.value(a).is_some())
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

fn hasher_for(algorithm: Option<&str>) -> ChecksumHasher {
    let mut h = ChecksumHasher::default();
    match algorithm {
        Some("CRC32") => h.crc32 = Some(Default::default()),
        Some("CRC32C") => h.crc32c = Some(Default::default()),
        Some("SHA1") => h.sha1 = Some(Default::default()),
        Some("SHA256") => h.sha256 = Some(Default::default()),
        Some("CRC64NVME") => h.crc64nvme = Some(Default::default()),
        _ => {}
    }
    h
}

fn computed(sum: &s3s::dto::Checksum, algorithm: &str) -> Option<String> {
    match algorithm {
        "CRC32" => sum.checksum_crc32.clone(),
        "CRC32C" => sum.checksum_crc32c.clone(),
        "SHA1" => sum.checksum_sha1.clone(),
        "SHA256" => sum.checksum_sha256.clone(),
        "CRC64NVME" => sum.checksum_crc64nvme.clone(),
        _ => None,
    }
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
            if let Err(e) = writer.write(&chunk).await {
                writer.discard().await;
                return Err(internal(e));
            }
        }
    }
    if declared_length.is_some_and(|n| n as u64 != writer.len()) {
        writer.discard().await;
        return Err(s3(S3ErrorCode::IncompleteBody));
    }
    if let Some(headers) = trailers.and_then(|t| t.take()) {
        for a in ALGORITHMS {
            let name = format!("x-amz-checksum-{}", a.to_ascii_lowercase());
            if let Some(v) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                declared.set(a, v.to_string());
                algorithm.get_or_insert(a);
            }
        }
    }
    let sums = hasher.finalize();
    let checksum = match algorithm {
        None => None,
        Some(a) => {
            let value = computed(&sums, a).unwrap_or_default();
            if let Some(sent) = declared.value(a)
                && *sent != value
            {
                writer.discard().await;
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!("The {a} you specified did not match the calculated checksum."),
                ));
            }
            Some(Checksum {
                algorithm: a.to_string(),
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
    if let Some(c) = checksum {
        let v = Some(c.value.clone());
        match c.algorithm.as_str() {
            "CRC32" => out.checksum_crc32 = v,
            "CRC32C" => out.checksum_crc32c = v,
            "SHA1" => out.checksum_sha1 = v,
            "SHA256" => out.checksum_sha256 = v,
            "CRC64NVME" => out.checksum_crc64nvme = v,
            _ => {}
        }
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
