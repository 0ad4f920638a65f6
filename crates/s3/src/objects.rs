//! Objects: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject and object tagging.

use crate::change::{self, Write};
use crate::errors::{from_io, from_object, internal, s3};
use crate::events::RequestFacts;
use crate::receive::{self, Declared, checksum_fields};
use crate::{MAX_PUT_BYTES, Objects, ReadError};
use futures_util::StreamExt;
use ignis_model::time;
use ignis_store::{BucketRecord, ObjectRecord};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::time::{Duration, SystemTime};

/// S3's type for an object that was given none.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// S3's limits on tags.
const MAX_TAGS: usize = 10;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// A stored time as S3's timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn unix_seconds(t: &Timestamp) -> i64 {
    let t: ::time::OffsetDateTime = t.clone().into();
    t.unix_timestamp()
}

/// The headers S3 stores with an object and answers with it.
#[derive(Debug, Default, Clone)]
pub struct Stored {
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
    pub website_redirect_location: Option<String>,
}

/// The Content-Encoding S3 keeps: `aws-chunked` says how the body travelled, not what it is.
fn stored_encoding(encoding: &Option<String>) -> Option<String> {
    let kept: Vec<&str> = encoding
        .as_deref()?
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// The [`Stored`] headers moved out of a request's input: PutObject, CopyObject and
/// CreateMultipartUpload name them alike (a macro, as the three inputs share no type).
macro_rules! stored_headers {
    ($input:expr) => {
        $crate::objects::Stored {
            cache_control: $input.cache_control,
            content_disposition: $input.content_disposition,
            content_encoding: $input.content_encoding,
            content_language: $input.content_language,
            expires: $input.expires,
            website_redirect_location: $input.website_redirect_location,
        }
    };
}
pub(crate) use stored_headers;

impl Stored {
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push((name.to_string(), v.clone()));
            }
        };
        push("cache-control", &self.cache_control);
        push("content-disposition", &self.content_disposition);
        push("content-encoding", &stored_encoding(&self.content_encoding));
        push("content-language", &self.content_language);
        push(
            "x-amz-website-redirect-location",
            &self.website_redirect_location,
        );
        if let Some(t) = &self.expires {
            out.push(("expires".into(), unix_seconds(t).to_string()));
        }
        out
    }

    pub fn from_pairs(pairs: &[(String, String)]) -> Stored {
        let mut s = Stored::default();
        for (name, value) in pairs {
            let v = Some(value.clone());
            match name.as_str() {
                "cache-control" => s.cache_control = v,
                "content-disposition" => s.content_disposition = v,
                "content-encoding" => s.content_encoding = v,
                "content-language" => s.content_language = v,
                "x-amz-website-redirect-location" => s.website_redirect_location = v,
                "expires" => {
                    s.expires = value.parse::<i64>().ok().map(|secs| timestamp(secs * 1000));
                }
                _ => {}
            }
        }
        s
    }
}

/// User metadata as stored: lower-case names, in name order.
pub fn metadata_pairs(metadata: Option<Metadata>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    pairs.sort();
    pairs
}

fn metadata_map(pairs: &[(String, String)]) -> Option<Metadata> {
    (!pairs.is_empty()).then(|| pairs.iter().cloned().collect())
}

/// Tags from the `x-amz-tagging` header (a URL-encoded query string), checked as S3 checks them.
pub fn parse_tagging_header(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else {
        return Ok(Vec::new());
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| s3_error!(InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
    };
    let mut tags = Vec::new();
    for pair in header.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(k)?, decode(v)?));
    }
    check_tags(&tags)?;
    Ok(tags)
}

/// S3's rules for an object's tag set.
pub fn check_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(s3_error!(
            InvalidTag,
            "Object tags cannot be greater than 10"
        ));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    Ok(())
}

pub(crate) async fn bucket(objects: &Objects, name: &str) -> S3Result<BucketRecord> {
    objects
        .store
        .bucket(name)
        .await
        .map_err(internal)?
        .ok_or_else(|| s3(S3ErrorCode::NoSuchBucket))
}

async fn existing(objects: &Objects, bucket_name: &str, key: &str) -> S3Result<ObjectRecord> {
    match objects
        .store
        .object(bucket_name, key)
        .await
        .map_err(internal)?
    {
        Some(o) => Ok(o),
        None => {
            bucket(objects, bucket_name).await?;
            Err(s3(S3ErrorCode::NoSuchKey))
        }
    }
}

pub async fn put(
    objects: &Objects,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let request = crate::service::facts(&req);
    let trailer = receive::trailer_algorithm(&req.headers);
    let input = req.input;
    let bucket = bucket(objects, &input.bucket).await?;
    if input
        .content_length
        .is_some_and(|n| n as u64 > MAX_PUT_BYTES)
    {
        return Err(s3(S3ErrorCode::EntityTooLarge));
    }
    let tags = parse_tagging_header(input.tagging.as_deref())?;
    if input.if_match.is_some() || input.if_none_match.is_some() {
        let current = objects
            .store
            .object(&input.bucket, &input.key)
            .await
            .map_err(internal)?;
        write_conditions(
            current.as_ref(),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
    }
    let declared = Declared {
        content_md5: input.content_md5.clone(),
        algorithm: input
            .checksum_algorithm
            .as_ref()
            .map(|a| a.as_str().to_string())
            .or(trailer),
        checksums: s3s::dto::Checksum {
            checksum_crc32: input.checksum_crc32.clone(),
            checksum_crc32c: input.checksum_crc32c.clone(),
            checksum_sha1: input.checksum_sha1.clone(),
            checksum_sha256: input.checksum_sha256.clone(),
            checksum_crc64nvme: input.checksum_crc64nvme.clone(),
            ..Default::default()
        },
    };
    let received = receive::receive(
        &objects.blobs,
        input.body,
        input.content_length,
        declared,
        req.trailing_headers,
    )
    .await?;
    let stored = stored_headers!(input);
    let record = ObjectRecord {
        bucket: input.bucket,
        key: input.key,
        size: received.blob.size,
        etag: hex::encode(received.blob.md5),
        segments: vec![ignis_store::Segment {
            blob: received.blob.id.clone(),
            size: received.blob.size,
        }],
        last_modified_ms: time::now_ms(),
        content_type: Some(
            input
                .content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
        ),
        headers: stored.to_pairs(),
        metadata: metadata_pairs(input.metadata),
        tags,
        checksum: received.checksum.clone(),
        parts: None,
    };
    change::commit(
        objects,
        &bucket,
        Write::Put(&record),
        "ObjectCreated:Put",
        &request,
    )
    .await?;
    let sums = checksum_fields(received.checksum.as_ref());
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(ETag::Strong(record.etag)),
        checksum_crc32: sums.checksum_crc32,
        checksum_crc32c: sums.checksum_crc32c,
        checksum_sha1: sums.checksum_sha1,
        checksum_sha256: sums.checksum_sha256,
        checksum_crc64nvme: sums.checksum_crc64nvme,
        checksum_type: received.checksum.map(|c| ChecksumType::from(c.kind)),
        ..Default::default()
    }))
}

/// PutObject's `If-Match` / `If-None-Match: *`.
fn write_conditions(
    current: Option<&ObjectRecord>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    if let Some(cond) = if_none_match
        && current.is_some()
        && (cond.is_any()
            || cond
                .as_etag()
                .is_some_and(|e| Some(e.value()) == current.map(|c| c.etag.as_str())))
    {
        return Err(s3(S3ErrorCode::PreconditionFailed));
    }
    if let Some(cond) = if_match {
        let Some(current) = current else {
            return Err(s3(S3ErrorCode::NoSuchKey));
        };
        if !etag_matches(cond, &current.etag) {
            return Err(s3(S3ErrorCode::PreconditionFailed));
        }
    }
    Ok(())
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag,
    }
}

/// GetObject's and HeadObject's conditions, in S3's order: If-Match (else If-Unmodified-Since)
/// fails with 412; If-None-Match (else If-Modified-Since) answers 304.
pub(crate) fn read_conditions(
    object: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let modified = object.last_modified_ms / 1000;
    match if_match {
        Some(cond) if !etag_matches(cond, &object.etag) => {
            return Err(s3(S3ErrorCode::PreconditionFailed));
        }
        Some(_) => {}
        None => {
            if let Some(t) = if_unmodified_since
                && modified > unix_seconds(t)
            {
                return Err(s3(S3ErrorCode::PreconditionFailed));
            }
        }
    }
    match if_none_match {
        Some(cond) if etag_matches(cond, &object.etag) => Err(not_modified(object)),
        Some(_) => Ok(()),
        None => match if_modified_since {
            Some(t) if modified <= unix_seconds(t) => Err(not_modified(object)),
            _ => Ok(()),
        },
    }
}

fn not_modified(object: &ObjectRecord) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", object.etag)) {
        headers.insert(http::header::ETAG, v);
    }
    e.set_headers(headers);
    e
}

/// The byte range a GetObject or HeadObject asks for: a Range header, or one part of a
/// multipart object.
fn selected(
    object: &ObjectRecord,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<Option<std::ops::Range<u64>>> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        let index = usize::try_from(n).ok().filter(|n| *n >= 1).map(|n| n - 1);
        let single = object.parts.is_none();
        return match index {
            Some(0) if single => Ok(None),
            Some(i) if !single && i < object.segments.len() => {
                let start: u64 = object.segments[..i].iter().map(|s| s.size).sum();
                Ok(Some(start..start + object.segments[i].size))
            }
            _ => Err(crate::errors::custom(
                "InvalidPartNumber",
                http::StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested partnumber is not satisfiable",
            )),
        };
    }
    match range {
        None => Ok(None),
        Some(r) => r.check(object.size).map(Some).map_err(|_| {
            crate::error_doc::with_detail(
                s3(S3ErrorCode::InvalidRange),
                "ActualObjectSize",
                &object.size.to_string(),
            )
        }),
    }
}

/// What GetObject and HeadObject both answer about an object.
struct Described {
    stored: Stored,
    content_length: i64,
    content_range: Option<String>,
    sums: s3s::dto::Checksum,
}

fn describe(
    object: &ObjectRecord,
    range: Option<&std::ops::Range<u64>>,
    checksum_mode: Option<&ChecksumMode>,
) -> Described {
    let whole = range.is_none() || range.is_some_and(|r| r.start == 0 && r.end == object.size);
    let with_checksum = whole && checksum_mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
    Described {
        stored: Stored::from_pairs(&object.headers),
        content_length: range.map_or(object.size, |r| r.end - r.start) as i64,
        content_range: range.map(|r| {
            format!(
                "bytes {}-{}/{}",
                r.start,
                r.end.saturating_sub(1),
                object.size
            )
        }),
        sums: if with_checksum {
            checksum_fields(object.checksum.as_ref())
        } else {
            Default::default()
        },
    }
}

pub async fn get(
    objects: &Objects,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let object = existing(objects, &input.bucket, &input.key).await?;
    read_conditions(
        &object,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
        input.if_unmodified_since.as_ref(),
    )?;
    let range = selected(&object, input.range.as_ref(), input.part_number)?;
    let d = describe(&object, range.as_ref(), input.checksum_mode.as_ref());
    let (start, end) = range.clone().map_or((0, object.size), |r| (r.start, r.end));
    let body = objects.blobs.read(&object.segments, start, end);
    let partial = range.is_some() && input.part_number.is_none();
    let output = GetObjectOutput {
        body: Some(StreamingBlob::wrap(body)),
        accept_ranges: Some("bytes".into()),
        content_length: Some(d.content_length),
        content_range: d.content_range,
        content_type: input.response_content_type.or(object.content_type.clone()),
        cache_control: input.response_cache_control.or(d.stored.cache_control),
        content_disposition: input
            .response_content_disposition
            .or(d.stored.content_disposition),
        content_encoding: input
            .response_content_encoding
            .or(d.stored.content_encoding),
        content_language: input
            .response_content_language
            .or(d.stored.content_language),
        expires: input.response_expires.or(d.stored.expires),
        website_redirect_location: d.stored.website_redirect_location,
        e_tag: Some(ETag::Strong(object.etag.clone())),
        last_modified: Some(timestamp(object.last_modified_ms)),
        metadata: metadata_map(&object.metadata),
        tag_count: (!object.tags.is_empty()).then_some(object.tags.len() as i32),
        parts_count: input.part_number.and(object.parts.map(|n| n as i32)),
        checksum_crc32: d.sums.checksum_crc32,
        checksum_crc32c: d.sums.checksum_crc32c,
        checksum_sha1: d.sums.checksum_sha1,
        checksum_sha256: d.sums.checksum_sha256,
        checksum_crc64nvme: d.sums.checksum_crc64nvme,
        ..Default::default()
    };
    let mut response = S3Response::new(output);
    if partial || input.part_number.is_some_and(|_| object.parts.is_some()) {
        response.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(response)
}

pub async fn head(
    objects: &Objects,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let object = existing(objects, &input.bucket, &input.key).await?;
    read_conditions(
        &object,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
        input.if_unmodified_since.as_ref(),
    )?;
    let range = selected(&object, input.range.as_ref(), input.part_number)?;
    let d = describe(&object, range.as_ref(), input.checksum_mode.as_ref());
    let output = HeadObjectOutput {
        accept_ranges: Some("bytes".into()),
        content_length: Some(d.content_length),
        content_range: d.content_range,
        content_type: object.content_type.clone(),
        cache_control: d.stored.cache_control,
        content_disposition: d.stored.content_disposition,
        content_encoding: d.stored.content_encoding,
        content_language: d.stored.content_language,
        expires: d.stored.expires,
        website_redirect_location: d.stored.website_redirect_location,
        e_tag: Some(ETag::Strong(object.etag.clone())),
        last_modified: Some(timestamp(object.last_modified_ms)),
        metadata: metadata_map(&object.metadata),
        parts_count: input.part_number.and(object.parts.map(|n| n as i32)),
        checksum_crc32: d.sums.checksum_crc32,
        checksum_crc32c: d.sums.checksum_crc32c,
        checksum_sha1: d.sums.checksum_sha1,
        checksum_sha256: d.sums.checksum_sha256,
        checksum_crc64nvme: d.sums.checksum_crc64nvme,
        ..Default::default()
    };
    let mut response = S3Response::new(output);
    if range.is_some() && input.part_number.is_none() {
        response.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(response)
}

/// Deletes one object (nothing, silently, if there is none) with its notifications.
async fn delete_one(
    objects: &Objects,
    bucket: &BucketRecord,
    key: &str,
    request: &RequestFacts,
) -> S3Result<()> {
    // The delete does nothing for a missing key, but its events are built, and room reserved
    // for them in the queue, before it runs: where there may be events, a missing key is looked
    // for first, so that deleting it is never refused for a full queue.
    if bucket.notification.is_some()
        && objects
            .store
            .object(&bucket.name, key)
            .await
            .map_err(internal)?
            .is_none()
    {
        return Ok(());
    }
    change::commit(
        objects,
        bucket,
        Write::Delete(key),
        "ObjectRemoved:Delete",
        request,
    )
    .await
}

pub async fn delete(
    objects: &Objects,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let request = crate::service::facts(&req);
    let bucket = bucket(objects, &req.input.bucket).await?;
    delete_one(objects, &bucket, &req.input.key, &request).await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub async fn delete_many(
    objects: &Objects,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let request = crate::service::facts(&req);
    let input = req.input;
    if input.delete.objects.len() > 1000 {
        return Err(s3(S3ErrorCode::MalformedXML));
    }
    let bucket = bucket(objects, &input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for o in input.delete.objects {
        match delete_one(objects, &bucket, &o.key, &request).await {
            Ok(()) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(o.key),
                        ..Default::default()
                    });
                }
            }
            Err(e) => errors.push(s3s::dto::Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(o.key),
                message: e.message().map(str::to_string),
                version_id: None,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: (!deleted.is_empty()).then_some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

/// The bucket and key a copy source names.
pub(crate) fn copy_source(source: &CopySource) -> S3Result<(String, String)> {
    match source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket.to_string(), key.to_string())),
        _ => Err(s3_error!(
            NotImplemented,
            "Ignis copies from buckets only, not access points or outposts"
        )),
    }
}

/// CopyObject's and UploadPartCopy's `x-amz-copy-source-if-*` conditions.
pub(crate) fn copy_conditions(
    source: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    // A copy answers 412 where a read would answer 304.
    read_conditions(
        source,
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
    )
    .map_err(|e| {
        if *e.code() == S3ErrorCode::NotModified {
            s3(S3ErrorCode::PreconditionFailed)
        } else {
            e
        }
    })
}

pub async fn copy(
    objects: &Objects,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let request = crate::service::facts(&req);
    let input = req.input;
    let (src_bucket, src_key) = copy_source(&input.copy_source)?;
    let source = existing(objects, &src_bucket, &src_key).await?;
    let bucket = bucket(objects, &input.bucket).await?;
    copy_conditions(
        &source,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    )?;
    if source.size > MAX_PUT_BYTES {
        return Err(s3_error!(
            InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT_BYTES}"
        ));
    }
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let replace_tags = input
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
    if src_bucket == input.bucket && src_key == input.key && !replace && !replace_tags {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    let blob = objects
        .blobs
        .copy(&source.segments, 0, source.size)
        .await
        .map_err(from_io)?;
    let (content_type, headers, metadata) = if replace {
        let stored = stored_headers!(input);
        (
            Some(
                input
                    .content_type
                    .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
            ),
            stored.to_pairs(),
            metadata_pairs(input.metadata),
        )
    } else {
        (
            source.content_type.clone(),
            source.headers.clone(),
            source.metadata.clone(),
        )
    };
    let tags = if replace_tags {
        parse_tagging_header(input.tagging.as_deref())?
    } else {
        source.tags.clone()
    };
    let record = ObjectRecord {
        bucket: input.bucket,
        key: input.key,
        size: blob.size,
        etag: hex::encode(blob.md5),
        segments: vec![ignis_store::Segment {
            blob: blob.id,
            size: blob.size,
        }],
        last_modified_ms: time::now_ms(),
        content_type,
        headers,
        metadata,
        tags,
        checksum: source.checksum.clone().filter(|c| c.kind == "FULL_OBJECT"),
        parts: None,
    };
    change::commit(
        objects,
        &bucket,
        Write::Put(&record),
        "ObjectCreated:Copy",
        &request,
    )
    .await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(ETag::Strong(record.etag)),
            last_modified: Some(timestamp(record.last_modified_ms)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

pub async fn put_tagging(
    objects: &Objects,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = req.input;
    let tags: Vec<(String, String)> = input
        .tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    check_tags(&tags)?;
    existing(objects, &input.bucket, &input.key).await?;
    objects
        .store
        .set_object_tags(&input.bucket, &input.key, &tags)
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutObjectTaggingOutput::default()))
}

pub async fn get_tagging(
    objects: &Objects,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let object = existing(objects, &req.input.bucket, &req.input.key).await?;
    let tag_set = object
        .tags
        .into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect();
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set,
        ..Default::default()
    }))
}

pub async fn delete_tagging(
    objects: &Objects,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    existing(objects, &req.input.bucket, &req.input.key).await?;
    objects
        .store
        .set_object_tags(&req.input.bucket, &req.input.key, &[])
        .await
        .map_err(from_object)?;
    Ok(S3Response::with_status(
        DeleteObjectTaggingOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

/// An object's whole content, for a function's code package.
pub async fn read_whole(
    objects: &Objects,
    bucket_name: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, ReadError> {
    let fail = |e: S3Error| ReadError {
        code: e.code().as_str().to_string(),
        message: e.message().unwrap_or_default().to_string(),
    };
    let object = existing(objects, bucket_name, key).await.map_err(fail)?;
    if object.size > max_bytes {
        return Err(ReadError {
            code: "EntityTooLarge".into(),
            message: format!("The object is larger than {max_bytes} bytes"),
        });
    }
    let mut out = Vec::with_capacity(object.size as usize);
    let mut body = std::pin::pin!(objects.blobs.read(&object.segments, 0, object.size));
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.map_err(|e| fail(internal(e)))?);
    }
    Ok(out)
}
