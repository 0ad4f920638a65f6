//! S3's errors with S3's own messages.

use ignis_store::ObjectError;
use s3s::{S3Error, S3ErrorCode};

/// An S3 error carrying the message S3 sends with that code.
pub fn s3(code: S3ErrorCode) -> S3Error {
    let message = match &code {
        S3ErrorCode::NoSuchBucket => "The specified bucket does not exist",
        S3ErrorCode::NoSuchKey => "The specified key does not exist.",
        S3ErrorCode::NoSuchUpload => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        S3ErrorCode::BucketAlreadyOwnedByYou => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        S3ErrorCode::BucketNotEmpty => "The bucket you tried to delete is not empty",
        S3ErrorCode::EntityTooLarge => "Your proposed upload exceeds the maximum allowed size",
        S3ErrorCode::EntityTooSmall => {
            "Your proposed upload is smaller than the minimum allowed object size."
        }
        S3ErrorCode::InvalidRange => "The requested range is not satisfiable",
        S3ErrorCode::PreconditionFailed => {
            "At least one of the pre-conditions you specified did not hold"
        }
        S3ErrorCode::InvalidPart => {
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        }
        S3ErrorCode::InvalidPartOrder => {
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        }
        S3ErrorCode::BadDigest => "The Content-MD5 you specified did not match what we received.",
        S3ErrorCode::IncompleteBody => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        }
        S3ErrorCode::MalformedXML => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        S3ErrorCode::InternalError => "We encountered an internal error. Please try again.",
        S3ErrorCode::SlowDown => "Please reduce your request rate.",
        _ => return S3Error::new(code),
    };
    S3Error::with_message(code, message)
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

/// A failure of Ignis itself: logged, and answered as S3's InternalError.
pub fn internal(e: impl std::fmt::Debug) -> S3Error {
    tracing::error!(error = ?e, "object store failure");
    s3(S3ErrorCode::InternalError)
}

/// An error whose code s3s does not know, with S3's status.
pub fn custom(code: &str, status: http::StatusCode, message: &'static str) -> S3Error {
    let code: S3ErrorCode = code.parse().unwrap_or(S3ErrorCode::InternalError);
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(status);
    e
}
