//! Where a package comes from: `ZipFile` in the request, or an object in the node's S3
//! (`S3Bucket`, `S3Key`, `S3ObjectVersion`), read through [`CodeObjects`].

use crate::ApiState;
use base64::Engine as _;
use ignis_package::Limits;
use ignis_wire::LambdaApiError;

/// Why an object could not be read: S3's error code and message.
#[derive(Debug, Clone)]
pub struct CodeObjectError {
    pub code: String,
    pub message: String,
}

/// Reads a code package from object storage (the server gives the node's S3).
#[async_trait::async_trait]
pub trait CodeObjects: Send + Sync {
    /// The object's bytes, refusing one larger than `max_bytes`.
    async fn fetch(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, CodeObjectError>;
}

/// A package as a request names it.
pub struct Source<'a> {
    pub zip_file: Option<&'a str>,
    pub s3_bucket: Option<&'a str>,
    pub s3_key: Option<&'a str>,
    pub s3_object_version: Option<&'a str>,
    /// "function code" or "layer content", as Lambda words its messages.
    pub what: &'static str,
}

/// Limits for a package from S3: the direct-upload limit does not apply, the unzipped one does.
fn s3_limits() -> Limits {
    Limits {
        max_zipped_bytes: Limits::LAMBDA.max_unzipped_bytes,
        ..Limits::LAMBDA
    }
}

/// The package's bytes and the limits it is checked against.
pub async fn package(
    state: &ApiState,
    source: Source<'_>,
) -> Result<(Vec<u8>, Limits), LambdaApiError> {
    let from_s3 =
        source.s3_bucket.is_some() || source.s3_key.is_some() || source.s3_object_version.is_some();
    if let Some(b64) = source.zip_file {
        if from_s3 {
            return Err(LambdaApiError::InvalidParameterValue(
                "Please do not provide other FunctionCode parameters when providing a ZipFile."
                    .into(),
            ));
        }
        let zip = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| {
                LambdaApiError::InvalidRequestContent(
                    "Could not parse request body into json: ZipFile is not valid base64".into(),
                )
            })?;
        return Ok((zip, Limits::LAMBDA));
    }
    let (Some(bucket), Some(key)) = (source.s3_bucket, source.s3_key) else {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "Please provide a source for {}.",
            source.what
        )));
    };
    let Some(objects) = &state.code_objects else {
        return Err(crate::functions::not_built(
            "Code from S3 without the node's object storage",
        ));
    };
    let limits = s3_limits();
    match objects
        .fetch(
            bucket,
            key,
            source.s3_object_version,
            limits.max_zipped_bytes,
        )
        .await
    {
        Ok(zip) => Ok((zip, limits)),
        Err(e) if e.code == "EntityTooLarge" => {
            Err(LambdaApiError::InvalidParameterValue(format!(
                "Unzipped size must be smaller than {} bytes",
                limits.max_unzipped_bytes
            )))
        }
        Err(e) => Err(LambdaApiError::InvalidParameterValue(format!(
            "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
            e.code, e.message
        ))),
    }
}
