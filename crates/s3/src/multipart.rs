//! Multipart uploads: create, upload a part (or copy one), list parts and uploads, complete
//! (the object keeps its parts' content, nothing is copied) and abort.

use crate::Objects;
use crate::buckets::owner;
use crate::change::{self, Write};
use crate::errors::{from_io, from_object, internal, s3};
use crate::objects::{
    DEFAULT_CONTENT_TYPE, bucket, copy_conditions, copy_source, metadata_pairs,
    parse_tagging_header, stored_headers, timestamp,
};
use crate::receive::{self, Declared, checksum_fields};
use crate::{MAX_PARTS, MAX_PUT_BYTES, MIN_PART_BYTES};
use ignis_model::time;
use ignis_store::{ObjectRecord, PartRecord, Segment, UploadRecord};
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

/// S3's most parts or uploads in one listing page.
const MAX_LISTED: i32 = 1000;

/// The upload, if it belongs to that bucket and key.
async fn upload(
    objects: &Objects,
    bucket_name: &str,
    key: &str,
    upload_id: &str,
) -> S3Result<UploadRecord> {
    bucket(objects, bucket_name).await?;
    match objects.store.upload(upload_id).await.map_err(internal)? {
        Some(u) if u.bucket == bucket_name && u.key == key => Ok(u),
        _ => Err(s3(S3ErrorCode::NoSuchUpload)),
    }
}

fn check_part_number(n: i32) -> S3Result<u32> {
    if (1..=MAX_PARTS).contains(&n) {
        Ok(n as u32)
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

pub async fn create(
    objects: &Objects,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    bucket(objects, &input.bucket).await?;
    let tags = parse_tagging_header(input.tagging.as_deref())?;
    let stored = stored_headers!(input);
    // Long and unguessable, as S3's are.
    let upload_id = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let record = UploadRecord {
        upload_id: upload_id.clone(),
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ms: time::now_ms(),
        content_type: Some(
            input
                .content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
        ),
        headers: stored.to_pairs(),
        metadata: metadata_pairs(input.metadata),
        tags,
        checksum_algorithm: input
            .checksum_algorithm
            .as_ref()
            .map(|a| a.as_str().to_ascii_uppercase()),
    };
    objects
        .store
        .create_upload(&record)
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        checksum_algorithm: input.checksum_algorithm,
        ..Default::default()
    }))
}

/// Stores a part, replacing (and removing the content of) an earlier part of that number.
async fn put_part(objects: &Objects, part: PartRecord) -> S3Result<()> {
    let blob = part.blob.clone();
    match objects.store.put_part(&part).await {
        Ok(replaced) => {
            if let Some(old) = replaced {
                objects.blobs.remove([old.blob]).await;
            }
            Ok(())
        }
        Err(e) => {
            objects.blobs.remove([blob]).await;
            Err(from_object(e))
        }
    }
}

pub async fn upload_part(
    objects: &Objects,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let trailer = receive::trailer_algorithm(&req.headers);
    let input = req.input;
    let number = check_part_number(input.part_number)?;
    let upload = upload(objects, &input.bucket, &input.key, &input.upload_id).await?;
    if input
        .content_length
        .is_some_and(|n| n as u64 > MAX_PUT_BYTES)
    {
        return Err(s3(S3ErrorCode::EntityTooLarge));
    }
    let declared = Declared {
        content_md5: input.content_md5,
        algorithm: input
            .checksum_algorithm
            .as_ref()
            .map(|a| a.as_str().to_string())
            .or(trailer)
            .or(upload.checksum_algorithm.clone()),
        checksums: s3s::dto::Checksum {
            checksum_crc32: input.checksum_crc32,
            checksum_crc32c: input.checksum_crc32c,
            checksum_sha1: input.checksum_sha1,
            checksum_sha256: input.checksum_sha256,
            checksum_crc64nvme: input.checksum_crc64nvme,
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
    let etag = hex::encode(received.blob.md5);
    put_part(
        objects,
        PartRecord {
            upload_id: upload.upload_id,
            number,
            size: received.blob.size,
            etag: etag.clone(),
            blob: received.blob.id,
            last_modified_ms: time::now_ms(),
            checksum: received.checksum.clone(),
        },
    )
    .await?;
    let sums = checksum_fields(received.checksum.as_ref());
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(etag)),
        checksum_crc32: sums.checksum_crc32,
        checksum_crc32c: sums.checksum_crc32c,
        checksum_sha1: sums.checksum_sha1,
        checksum_sha256: sums.checksum_sha256,
        checksum_crc64nvme: sums.checksum_crc64nvme,
        ..Default::default()
    }))
}

/// `bytes=first-last` of a copy source of `size` bytes.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(range) = range else {
        return Ok((0, size));
    };
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.parse().map_err(|_| invalid())?;
    let last: u64 = last.parse().map_err(|_| invalid())?;
    if first > last || last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok((first, last + 1))
}

pub async fn upload_part_copy(
    objects: &Objects,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    let number = check_part_number(input.part_number)?;
    let upload = upload(objects, &input.bucket, &input.key, &input.upload_id).await?;
    let (src_bucket, src_key) = copy_source(&input.copy_source)?;
    bucket(objects, &src_bucket).await?;
    let source = objects
        .store
        .object(&src_bucket, &src_key)
        .await
        .map_err(internal)?
        .ok_or_else(|| s3(S3ErrorCode::NoSuchKey))?;
    copy_conditions(
        &source,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    )?;
    let (start, end) = copy_range(input.copy_source_range.as_deref(), source.size)?;
    if end - start > MAX_PUT_BYTES {
        return Err(s3(S3ErrorCode::EntityTooLarge));
    }
    let blob = objects
        .blobs
        .copy(&source.segments, start, end)
        .await
        .map_err(from_io)?;
    let etag = hex::encode(blob.md5);
    let now = time::now_ms();
    put_part(
        objects,
        PartRecord {
            upload_id: upload.upload_id,
            number,
            size: blob.size,
            etag: etag.clone(),
            blob: blob.id,
            last_modified_ms: now,
            checksum: None,
        },
    )
    .await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(timestamp(now)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// Every part of an upload, in order.
async fn all_parts(objects: &Objects, upload_id: &str) -> S3Result<Vec<PartRecord>> {
    let mut parts = Vec::new();
    let mut after = 0;
    loop {
        let page = objects
            .store
            .parts(upload_id, after, 1000)
            .await
            .map_err(internal)?;
        let Some(last) = page.last() else {
            return Ok(parts);
        };
        after = last.number;
        parts.extend(page);
    }
}

pub async fn complete(
    objects: &Objects,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let request = crate::service::facts(&req);
    let input = req.input;
    let upload = upload(objects, &input.bucket, &input.key, &input.upload_id).await?;
    let bucket_record = bucket(objects, &input.bucket).await?;
    let listed = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if listed.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    let stored = all_parts(objects, &upload.upload_id).await?;
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(listed.len());
    let mut previous = 0;
    for p in &listed {
        let n = p.part_number.unwrap_or(0);
        if n <= previous {
            return Err(s3(S3ErrorCode::InvalidPartOrder));
        }
        previous = n;
        let found = stored
            .iter()
            .find(|s| s.number as i32 == n && p.e_tag.as_ref().is_none_or(|e| e.value() == s.etag));
        match found {
            Some(s) => chosen.push(s),
            None => return Err(s3(S3ErrorCode::InvalidPart)),
        }
    }
    if let Some((_, all_but_last)) = chosen.split_last()
        && all_but_last.iter().any(|p| p.size < MIN_PART_BYTES)
    {
        return Err(s3(S3ErrorCode::EntityTooSmall));
    }
    // S3's multipart ETag: the MD5 of the parts' binary MD5s, then the part count.
    let mut md5 = Md5::new();
    for p in &chosen {
        md5.update(hex::decode(&p.etag).map_err(internal)?);
    }
    let etag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
    let record = ObjectRecord {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        size: chosen.iter().map(|p| p.size).sum(),
        etag: etag.clone(),
        segments: chosen
            .iter()
            .map(|p| Segment {
                blob: p.blob.clone(),
                size: p.size,
            })
            .collect(),
        last_modified_ms: time::now_ms(),
        content_type: upload.content_type.clone(),
        headers: upload.headers.clone(),
        metadata: upload.metadata.clone(),
        tags: upload.tags.clone(),
        checksum: None,
        parts: Some(chosen.len() as u32),
    };
    change::commit(
        objects,
        &bucket_record,
        Write::Complete {
            upload_id: &upload.upload_id,
            record: &record,
        },
        "ObjectCreated:CompleteMultipartUpload",
        &request,
    )
    .await?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(ETag::Strong(etag)),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        ..Default::default()
    }))
}

pub async fn abort(
    objects: &Objects,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    let upload = upload(objects, &input.bucket, &input.key, &input.upload_id).await?;
    let parts = objects
        .store
        .abort_upload(&upload.upload_id)
        .await
        .map_err(from_object)?;
    objects
        .blobs
        .remove(parts.into_iter().map(|p| p.blob))
        .await;
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn list_parts(
    objects: &Objects,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let upload = upload(objects, &input.bucket, &input.key, &input.upload_id).await?;
    let max = input.max_parts.unwrap_or(MAX_LISTED).clamp(0, MAX_LISTED);
    let after = match input.part_number_marker {
        None => 0,
        Some(m) => u32::try_from(m).map_err(|_| {
            s3_error!(
                InvalidArgument,
                "Provided part-number-marker not an integer or within integer range"
            )
        })?,
    };
    let mut page = objects
        .store
        .parts(&upload.upload_id, after, max as u32 + 1)
        .await
        .map_err(internal)?;
    let truncated = page.len() > max as usize;
    page.truncate(max as usize);
    let next = page.last().map(|p| p.number as i32);
    let parts = page
        .into_iter()
        .map(|p| {
            let sums = checksum_fields(p.checksum.as_ref());
            Part {
                e_tag: Some(ETag::Strong(p.etag)),
                last_modified: Some(timestamp(p.last_modified_ms)),
                part_number: Some(p.number as i32),
                size: Some(p.size as i64),
                checksum_crc32: sums.checksum_crc32,
                checksum_crc32c: sums.checksum_crc32c,
                checksum_sha1: sums.checksum_sha1,
                checksum_sha256: sums.checksum_sha256,
                checksum_crc64nvme: sums.checksum_crc64nvme,
            }
        })
        .collect();
    let who = owner(objects);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload.upload_id),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next,
        max_parts: Some(max),
        is_truncated: Some(truncated),
        parts: Some(parts),
        initiator: Some(Initiator {
            display_name: who.display_name.clone(),
            id: who.id.clone(),
        }),
        owner: Some(who),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: upload.checksum_algorithm.map(|a| receive::algorithm(&a)),
        ..Default::default()
    }))
}

pub async fn list_uploads(
    objects: &Objects,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    bucket(objects, &input.bucket).await?;
    let max = input.max_uploads.unwrap_or(MAX_LISTED).clamp(0, MAX_LISTED);
    let prefix = input.prefix.clone().unwrap_or_default();
    let mut page = objects
        .store
        .uploads(
            &input.bucket,
            &prefix,
            input.key_marker.as_deref().filter(|m| !m.is_empty()),
            input.upload_id_marker.as_deref().filter(|m| !m.is_empty()),
            max as u32 + 1,
        )
        .await
        .map_err(internal)?;
    let truncated = page.len() > max as usize;
    page.truncate(max as usize);
    let (next_key, next_id) = match page.last() {
        Some(u) if truncated => (Some(u.key.clone()), Some(u.upload_id.clone())),
        _ => (None, None),
    };
    let who = owner(objects);
    let uploads = page
        .into_iter()
        .map(|u| MultipartUpload {
            initiated: Some(timestamp(u.initiated_ms)),
            initiator: Some(Initiator {
                display_name: who.display_name.clone(),
                id: who.id.clone(),
            }),
            key: Some(u.key),
            owner: Some(who.clone()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            upload_id: Some(u.upload_id),
            checksum_algorithm: u.checksum_algorithm.map(|a| receive::algorithm(&a)),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(max),
        is_truncated: Some(truncated),
        prefix: input.prefix,
        delimiter: input.delimiter,
        encoding_type: input.encoding_type,
        uploads: Some(uploads),
        ..Default::default()
    }))
}
