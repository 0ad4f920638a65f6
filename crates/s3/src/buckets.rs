//! Buckets: CreateBucket, HeadBucket, DeleteBucket, ListBuckets, GetBucketLocation, and the
//! bucket's notification configuration.

use crate::Objects;
use crate::errors::{from_object, internal};
use crate::objects::{bucket, timestamp};
use ignis_model::time;
use ignis_store::BucketRecord;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The owner S3 names in listings: the account.
pub fn owner(objects: &Objects) -> Owner {
    Owner {
        display_name: Some("ignis".into()),
        id: Some(objects.account.id.clone()),
    }
}

pub async fn create(
    objects: &Objects,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let input = req.input;
    let region = &objects.account.region;
    let constraint = input
        .create_bucket_configuration
        .and_then(|c| c.location_constraint)
        .map(|c| c.as_str().to_string())
        .filter(|c| !c.is_empty());
    if let Some(c) = &constraint
        && c != region
    {
        return Err(s3_error!(
            IllegalLocationConstraintException,
            "The {c} location constraint is incompatible for the region specific endpoint this request was sent to."
        ));
    }
    if constraint.is_some() && region == "us-east-1" {
        return Err(s3_error!(
            InvalidLocationConstraint,
            "The specified location-constraint is not valid"
        ));
    }
    let record = BucketRecord {
        name: input.bucket.clone(),
        region: region.clone(),
        created_ms: time::now_ms(),
        notification: None,
    };
    objects
        .store
        .create_bucket(&record)
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", input.bucket)),
    }))
}

pub async fn head(
    objects: &Objects,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let b = bucket(objects, &req.input.bucket).await?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region),
        ..Default::default()
    }))
}

pub async fn delete(
    objects: &Objects,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    objects
        .store
        .delete_bucket(&req.input.bucket)
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub async fn list(
    objects: &Objects,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let input = req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    let after = input.continuation_token.clone().unwrap_or_default();
    let max = input
        .max_buckets
        .map(|n| n.clamp(1, 10_000) as usize)
        .unwrap_or(usize::MAX);
    let all = objects.store.buckets().await.map_err(internal)?;
    let mut matching = all
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix) && b.name > after)
        .filter(|b| input.bucket_region.as_ref().is_none_or(|r| *r == b.region));
    let page: Vec<BucketRecord> = matching.by_ref().take(max).collect();
    let more = matching.next().is_some();
    let continuation_token = if more {
        page.last().map(|b| b.name.clone())
    } else {
        None
    };
    let buckets = page
        .into_iter()
        .map(|b| Bucket {
            bucket_region: Some(b.region),
            creation_date: Some(timestamp(b.created_ms)),
            name: Some(b.name),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner(objects)),
        continuation_token,
        prefix: input.prefix,
    }))
}

pub async fn location(
    objects: &Objects,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let b = bucket(objects, &req.input.bucket).await?;
    // S3 answers us-east-1 with an empty constraint.
    let constraint = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: constraint,
    }))
}

pub async fn put_notification(
    objects: &Objects,
    req: S3Request<PutBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
    let input = req.input;
    let b = bucket(objects, &input.bucket).await?;
    let stored = crate::events::configure(objects, &b, input.notification_configuration).await?;
    objects
        .store
        .set_bucket_notification(&b.name, stored.as_deref())
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
}

pub async fn get_notification(
    objects: &Objects,
    req: S3Request<GetBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
    let b = bucket(objects, &req.input.bucket).await?;
    Ok(S3Response::new(crate::events::configuration(&b)))
}
