//! S3's errors with S3's own messages.

use crate::error_doc::standard_message;
use ignis_store::ObjectError;
use s3s::{S3Error, S3ErrorCode};

/// An S3 error carrying the message S3 sends with that code.
pub fn s3(code: S3ErrorCode) -> S3Error {
    match standard_message(code.as_str()) {
        Some(message) => S3Error::with_message(code, message),
        None => S3Error::new(code),
    }
}

/// A store failure as S3 answers it.
pub fn from_object(e: ObjectError) -> S3Error {
    match e {
        ObjectError::NoSuchBucket => s3(S3ErrorCode::NoSuchBucket),
        ObjectError::BucketExists => s3(S3ErrorCode::BucketAlreadyOwnedByYou),
        ObjectError::BucketNotEmpty => s3(S3ErrorCode::BucketNotEmpty),
        ObjectError::NoSuchKey => s3(S3ErrorCode::NoSuchKey),
        ObjectError::NoSuchUpload => s3(S3ErrorCode::NoSuchUpload),
        ObjectError::Queue(e) => {
            // The notified function's queue is full: nothing was written; the client retries.
            tracing::warn!(error = %e, "object write refused: its notifications cannot be queued");
            s3(S3ErrorCode::SlowDown)
        }
        ObjectError::Store(e) => internal(e),
    }
}

/// A file failure writing content: the node's object storage being full is the caller's to
/// hear (507 `InsufficientStorage`, which clients do not retry); anything else is internal.
pub fn from_io(e: std::io::Error) -> S3Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        return custom(
            "InsufficientStorage",
            http::StatusCode::INSUFFICIENT_STORAGE,
            format!("The node's object storage is full ({e}): delete objects to make room."),
        );
    }
    internal(e)
}

/// A failure of Ignis itself: logged, and answered as S3's InternalError.
pub fn internal(e: impl std::fmt::Debug) -> S3Error {
    tracing::error!(error = ?e, "object store failure");
    s3(S3ErrorCode::InternalError)
}

/// An error whose code s3s does not know, with S3's status.
pub fn custom(
    code: &str,
    status: http::StatusCode,
    message: impl Into<std::borrow::Cow<'static, str>>,
) -> S3Error {
    let code: S3ErrorCode = code.parse().unwrap_or(S3ErrorCode::InternalError);
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(status);
    e
}
