//! Which IAM action and resource each S3 operation is, as AWS's Service Authorization
//! Reference for S3 names them (`s3:ListBucket` for ListObjects and HeadBucket,
//! `s3:ListAllMyBuckets` for ListBuckets, `s3:PutObject` for the parts of a multipart upload …),
//! and S3's AccessDenied for a caller its policies do not allow.
//!
//! Only identity-based policies are evaluated: Ignis does not store bucket policies or ACLs.

use ignis_identity::{Decision, Identity, Principal};
use s3s::path::S3Path;
use s3s::{S3Error, s3_error};
use std::net::IpAddr;

/// The caller of a request other than the root user, kept in the request's extensions by the
/// access check for the operations that authorise more than their path (a copy's source,
/// DeleteObjects' keys).
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub principal: Principal,
    pub source_ip: IpAddr,
}

/// The action of an operation (s3s's operation name).
pub(crate) fn action(operation: &str) -> String {
    let action = match operation {
        "ListBuckets" => "ListAllMyBuckets",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "HeadObject" => "GetObject",
        "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "PutObject",
        "ListParts" => "ListMultipartUploadParts",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "DeleteObjects" => "DeleteObject",
        "GetBucketNotificationConfiguration" => "GetBucketNotification",
        "PutBucketNotificationConfiguration" => "PutBucketNotification",
        "DeleteBucketTagging" => "PutBucketTagging",
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        // Every other operation is the action of its name (GetObjectTagging, CreateBucket …).
        other => other,
    };
    format!("s3:{action}")
}

/// `arn:aws:s3:::<bucket>` or `arn:aws:s3:::<bucket>/<key>`; `*` for the service itself.
pub(crate) fn resource(path: &S3Path) -> String {
    match path {
        S3Path::Root => "*".to_string(),
        S3Path::Bucket { bucket } => object_arn(bucket, None),
        S3Path::Object { bucket, key } => object_arn(bucket, Some(key)),
    }
}

pub(crate) fn object_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// Whether `caller` may take `action` on `resource`; S3's AccessDenied (403) with the context
/// S3 gives a caller of the bucket's own account (S3 quotes the resource) when not.
pub(crate) fn check(
    identity: &Identity,
    caller: &Caller,
    action: &str,
    resource: &str,
) -> Result<(), S3Error> {
    let principal = &caller.principal;
    match identity.decide(principal, caller.source_ip, action, resource, &[]) {
        Decision::Allow => Ok(()),
        d => Err(s3_error!(
            AccessDenied,
            "{}",
            principal.denial(
                action,
                &format!("\"{resource}\""),
                d == Decision::ExplicitDeny
            )
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_their_actions_and_paths_their_arns() {
        for (op, expected) in [
            ("ListBuckets", "s3:ListAllMyBuckets"),
            ("ListObjectsV2", "s3:ListBucket"),
            ("HeadBucket", "s3:ListBucket"),
            ("GetObject", "s3:GetObject"),
            ("HeadObject", "s3:GetObject"),
            ("UploadPart", "s3:PutObject"),
            ("CompleteMultipartUpload", "s3:PutObject"),
            ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
            ("ListParts", "s3:ListMultipartUploadParts"),
            ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
            (
                "PutBucketNotificationConfiguration",
                "s3:PutBucketNotification",
            ),
            ("CreateBucket", "s3:CreateBucket"),
        ] {
            assert_eq!(action(op), expected, "{op}");
        }
        assert_eq!(resource(&S3Path::Root), "*");
        assert_eq!(
            resource(&S3Path::Object {
                bucket: "b".into(),
                key: "a/k é".into()
            }),
            "arn:aws:s3:::b/a/k é"
        );
    }
}
