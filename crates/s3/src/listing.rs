//! ListObjectsV2 and ListObjects: keys in S3's order (UTF-8 bytes), grouped by a delimiter
//! into common prefixes, a page at a time.

use crate::Objects;
use crate::buckets::owner;
use crate::errors::from_object;
use crate::objects::{bucket, timestamp};
use base64::Engine as _;
use ignis_store::ObjectRecord;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// S3's most keys in one page.
const MAX_KEYS: i32 = 1000;
/// Rows read from the store at a time while a page is filled.
const BATCH: u32 = 1000;
/// What `EncodingType=url` leaves as it is.
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// One entry of a page: an object or a common prefix.
enum Entry {
    Object(Box<ObjectRecord>),
    Prefix(String),
}

/// One page of a listing.
struct Page {
    entries: Vec<Entry>,
    truncated: bool,
    /// Where the next page starts (after this key or common prefix).
    resume: Option<String>,
}

/// Lists up to `max` entries under `prefix` strictly after `after`.
async fn page(
    objects: &Objects,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<String>,
    max: usize,
) -> S3Result<Page> {
    let mut entries = Vec::new();
    // A common prefix at or before where the listing resumes was listed already.
    let floor = after.clone();
    let mut cursor = after;
    let mut last_prefix: Option<String> = None;
    loop {
        let rows = objects
            .store
            .list_objects(bucket, prefix, cursor.as_deref(), BATCH)
            .await
            .map_err(from_object)?;
        let exhausted = rows.len() < BATCH as usize;
        for row in rows {
            cursor = Some(row.key.clone());
            let grouped = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                let rest = &row.key[prefix.len()..];
                rest.find(d)
                    .map(|i| format!("{prefix}{}", &rest[..i + d.len()]))
            });
            let entry = match grouped {
                Some(p) if last_prefix.as_deref() == Some(&p) => continue,
                Some(p) if floor.as_deref().is_some_and(|f| p.as_str() <= f) => {
                    last_prefix = Some(p);
                    continue;
                }
                Some(p) => {
                    last_prefix = Some(p.clone());
                    Entry::Prefix(p)
                }
                None => Entry::Object(Box::new(row)),
            };
            if entries.len() == max {
                return Ok(Page {
                    resume: entries.last().map(resume_after),
                    entries,
                    truncated: true,
                });
            }
            entries.push(entry);
        }
        if exhausted {
            return Ok(Page {
                entries,
                truncated: false,
                resume: None,
            });
        }
    }
}

/// The key a listing resumes strictly after: past every key of a common prefix.
fn resume_after(entry: &Entry) -> String {
    match entry {
        Entry::Object(o) => o.key.clone(),
        Entry::Prefix(p) => format!("{p}\u{10FFFF}"),
    }
}

fn encode(url: bool, s: String) -> String {
    if url {
        utf8_percent_encode(&s, URL_SAFE).to_string()
    } else {
        s
    }
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "Provided max-keys not an integer or within integer range"
        )),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
        None => Ok(MAX_KEYS as usize),
    }
}

fn split(
    entries: Vec<Entry>,
    url: bool,
    with_owner: Option<Owner>,
) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for e in entries {
        match e {
            Entry::Object(o) => contents.push(Object {
                checksum_algorithm: o
                    .checksum
                    .as_ref()
                    .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.clone())]),
                checksum_type: o.checksum.clone().map(|c| ChecksumType::from(c.kind)),
                key: Some(encode(url, o.key)),
                last_modified: Some(timestamp(o.last_modified_ms)),
                e_tag: Some(ETag::Strong(o.etag)),
                size: Some(o.size as i64),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                owner: with_owner.clone(),
                ..Default::default()
            }),
            Entry::Prefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(encode(url, p)),
            }),
        }
    }
    (contents, prefixes)
}

fn is_url(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding.map(|e| e.as_str()) {
        None => Ok(false),
        Some(e) if e == EncodingType::URL => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

/// A listed page, with the request's encoding and prefix it is answered in.
struct Listing {
    url: bool,
    prefix: String,
    page: Page,
}

/// What ListObjectsV2 and ListObjects share: the bucket checked, the encoding, max-keys and
/// where to start (`after`, the version's own marker) read in the order S3 reports their
/// errors, then one page.
async fn list(
    objects: &Objects,
    bucket_name: &str,
    encoding: Option<&EncodingType>,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    requested_max: Option<i32>,
    after: impl FnOnce() -> S3Result<Option<String>>,
) -> S3Result<Listing> {
    bucket(objects, bucket_name).await?;
    let url = is_url(encoding)?;
    let prefix = prefix.unwrap_or_default().to_string();
    let max = max_keys(requested_max)?;
    let after = after()?;
    let page = page(objects, bucket_name, &prefix, delimiter, after, max).await?;
    Ok(Listing { url, prefix, page })
}

pub async fn list_v2(
    objects: &Objects,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let Listing { url, prefix, page } = list(
        objects,
        &input.bucket,
        input.encoding_type.as_ref(),
        input.prefix.as_deref(),
        input.delimiter.as_deref(),
        input.max_keys,
        || match &input.continuation_token {
            Some(token) => decode_token(token).map(Some),
            None => Ok(input.start_after.clone().filter(|s| !s.is_empty())),
        },
    )
    .await?;
    let key_count = page.entries.len() as i32;
    let with_owner = input.fetch_owner.unwrap_or(false).then(|| owner(objects));
    let (contents, prefixes) = split(page.entries, url, with_owner);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(encode(url, prefix)),
        max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        is_truncated: Some(page.truncated),
        next_continuation_token: page
            .resume
            .filter(|_| page.truncated)
            .map(|k| encode_token(&k)),
        contents: (!contents.is_empty()).then_some(contents),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        delimiter: input.delimiter.map(|d| encode(url, d)),
        encoding_type: input.encoding_type,
        start_after: input.start_after.map(|s| encode(url, s)),
        ..Default::default()
    }))
}

pub async fn list_v1(
    objects: &Objects,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let Listing { url, prefix, page } = list(
        objects,
        &input.bucket,
        input.encoding_type.as_ref(),
        input.prefix.as_deref(),
        input.delimiter.as_deref(),
        input.max_keys,
        || Ok(input.marker.clone().filter(|m| !m.is_empty())),
    )
    .await?;
    // S3 gives NextMarker only with a delimiter (otherwise the last key is the marker).
    let next_marker = match (&input.delimiter, page.truncated, page.entries.last()) {
        (Some(_), true, Some(Entry::Object(o))) => Some(o.key.clone()),
        (Some(_), true, Some(Entry::Prefix(p))) => Some(p.clone()),
        _ => None,
    };
    let (contents, prefixes) = split(page.entries, url, Some(owner(objects)));
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(encode(url, prefix)),
        marker: Some(encode(url, input.marker.unwrap_or_default())),
        max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: (!contents.is_empty()).then_some(contents),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        delimiter: input.delimiter.map(|d| encode(url, d)),
        next_marker: next_marker.map(|m| encode(url, m)),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

/// A continuation token: where the next page starts, opaque to the client.
fn encode_token(after: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(after.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = encode_token("photos/2026/\u{10FFFF}");
        assert_eq!(decode_token(&t).unwrap(), "photos/2026/\u{10FFFF}");
        assert!(decode_token("not base64!").is_err());
    }

    #[test]
    fn url_encoding_keeps_what_s3_keeps() {
        assert_eq!(encode(true, "a b/c+d~é".into()), "a%20b/c%2Bd~%C3%A9");
    }
}
