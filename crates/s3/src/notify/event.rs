//! The event S3 sends to a function (event message structure, `eventVersion` 2.1), and its
//! sequencer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// What an event record says, in plain values; [`event_record`] writes it as S3 does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts<'a> {
    /// The bucket's region (`awsRegion`).
    pub region: &'a str,
    /// When the request finished.
    pub time: DateTime<Utc>,
    /// `s3:ObjectCreated:Put` or `ObjectCreated:Put`; written without `s3:`.
    pub event_name: &'a str,
    /// Who made the request (`userIdentity.principalId`).
    pub principal_id: &'a str,
    /// `requestParameters.sourceIPAddress`.
    pub source_ip: &'a str,
    /// The request's `x-amz-request-id`.
    pub request_id: &'a str,
    /// The request's `x-amz-id-2`.
    pub host_id: &'a str,
    /// The notification configuration's id.
    pub configuration_id: &'a str,
    pub bucket: &'a str,
    /// The bucket owner (`bucket.ownerIdentity.principalId`).
    pub owner_principal_id: &'a str,
    /// The object key as stored (it is URL-encoded in the record).
    pub key: &'a str,
    /// The object's size; not written for `ObjectRemoved` events.
    pub size: u64,
    /// The object's ETag without quotes; not written for `ObjectRemoved` events.
    pub etag: &'a str,
    /// The object's version, for a versioned bucket.
    pub version_id: Option<&'a str>,
    /// From [`Sequencer::next`].
    pub sequencer: &'a str,
}

#[derive(Serialize)]
struct Records<'a> {
    #[serde(rename = "Records")]
    records: [Record<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    event_source: &'static str,
    aws_region: &'a str,
    event_time: String,
    event_name: &'a str,
    user_identity: PrincipalId<'a>,
    request_parameters: RequestParameters<'a>,
    response_elements: ResponseElements<'a>,
    s3: S3Entity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrincipalId<'a> {
    principal_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestParameters<'a> {
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
}

#[derive(Serialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id")]
    request_id: &'a str,
    #[serde(rename = "x-amz-id-2")]
    host_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct S3Entity<'a> {
    s3_schema_version: &'static str,
    configuration_id: &'a str,
    bucket: BucketEntity<'a>,
    object: ObjectEntity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BucketEntity<'a> {
    name: &'a str,
    owner_identity: PrincipalId<'a>,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity<'a> {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(rename = "eTag", skip_serializing_if = "Option::is_none")]
    e_tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    sequencer: &'a str,
}

/// An object key as S3 writes it in an event: `application/x-www-form-urlencoded` (a space
/// becomes `+`, every other byte but `A-Z a-z 0-9 - _ . *` becomes `%XX`), except that `/` is
/// left as it is.
pub fn url_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The JSON document S3 invokes a function with for one event:
/// `{"Records":[{...}]}`, members in S3's order.
pub fn event_record(facts: &EventFacts<'_>) -> Vec<u8> {
    let event_name = facts
        .event_name
        .strip_prefix("s3:")
        .unwrap_or(facts.event_name);
    let removed = event_name.starts_with("ObjectRemoved:");
    let doc = Records {
        records: [Record {
            event_version: "2.1",
            event_source: "aws:s3",
            aws_region: facts.region,
            event_time: facts.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            event_name,
            user_identity: PrincipalId {
                principal_id: facts.principal_id,
            },
            request_parameters: RequestParameters {
                source_ip_address: facts.source_ip,
            },
            response_elements: ResponseElements {
                request_id: facts.request_id,
                host_id: facts.host_id,
            },
            s3: S3Entity {
                s3_schema_version: "1.0",
                configuration_id: facts.configuration_id,
                bucket: BucketEntity {
                    name: facts.bucket,
                    owner_identity: PrincipalId {
                        principal_id: facts.owner_principal_id,
                    },
                    arn: format!("arn:aws:s3:::{}", facts.bucket),
                },
                object: ObjectEntity {
                    key: url_encode_key(facts.key),
                    size: (!removed).then_some(facts.size),
                    e_tag: (!removed).then_some(facts.etag),
                    version_id: facts.version_id,
                    sequencer: facts.sequencer,
                },
            },
        }],
    };
    serde_json::to_vec(&doc).expect("an event record always serialises")
}

/// Sequencer values: 16 upper-case hex digits that only grow, so that for any key a later
/// event's value compares greater (S3 compares them as strings; equal lengths here). Seeded
/// from the clock in nanoseconds, so values keep growing across restarts while the clock does.
#[derive(Debug, Default)]
pub struct Sequencer {
    last: AtomicU64,
}

impl Sequencer {
    /// A sequencer that starts from the clock.
    pub fn new() -> Sequencer {
        Sequencer::default()
    }

    /// The next value: the clock in nanoseconds, or one more than the last value if that is
    /// greater.
    pub fn next(&self) -> String {
        let now = Utc::now()
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let value = now.max(last.saturating_add(1));
            match self
                .last
                .compare_exchange_weak(last, value, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return format!("{value:016X}"),
                Err(seen) => last = seen,
            }
        }
    }
}
