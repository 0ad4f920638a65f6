//! `CloudWatchError`: the one type that becomes a CloudWatch error response, in the protocol
//! the request came in (see `wire.rs`), with botocore's error codes.

use http::StatusCode;

/// A CloudWatch error, by its code on the wire.
#[derive(Debug, thiserror::Error)]
pub enum CloudWatchError {
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("{0}")]
    InvalidNextToken(String),
    /// A query AWS refuses as a whole (GetMetricData's `ValidationError`).
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    RequestTooLarge(String),
    #[error("{0}")]
    Throttling(String),
    #[error("{0}")]
    Internal(String),
    /// A SigV4 failure: its AWS type and message.
    #[error("{1}")]
    Auth(&'static str, String),
}

impl CloudWatchError {
    /// The query protocol's code (and `x-amzn-query-error`'s).
    pub fn code(&self) -> &'static str {
        match self {
            CloudWatchError::InvalidParameterValue(_) => "InvalidParameterValue",
            CloudWatchError::MissingParameter(_) => "MissingParameter",
            CloudWatchError::InvalidParameterCombination(_) => "InvalidParameterCombination",
            CloudWatchError::InvalidNextToken(_) => "InvalidNextToken",
            CloudWatchError::Validation(_) => "ValidationError",
            CloudWatchError::UnknownOperation(_) => "InvalidAction",
            CloudWatchError::RequestTooLarge(_) => "RequestEntityTooLarge",
            CloudWatchError::Throttling(_) => "Throttling",
            CloudWatchError::Internal(_) => "InternalServiceError",
            CloudWatchError::Auth(code, _) => code,
        }
    }

    /// The JSON and CBOR protocols' `__type`: the error shape's name where the model has one.
    pub fn type_name(&self) -> &'static str {
        match self {
            CloudWatchError::InvalidParameterValue(_) => "InvalidParameterValueException",
            CloudWatchError::MissingParameter(_) => "MissingRequiredParameterException",
            CloudWatchError::InvalidParameterCombination(_) => {
                "InvalidParameterCombinationException"
            }
            CloudWatchError::InvalidNextToken(_) => "InvalidNextToken",
            CloudWatchError::Internal(_) => "InternalServiceFault",
            CloudWatchError::UnknownOperation(_) => "UnknownOperationException",
            other => other.code(),
        }
    }

    /// Who is at fault, as `x-amzn-query-error` and the query error's `Type` say it.
    pub fn fault(&self) -> &'static str {
        match self {
            CloudWatchError::Internal(_) => "Receiver",
            _ => "Sender",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            CloudWatchError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            CloudWatchError::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CloudWatchError::Auth(..) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A failure of the node's own (its store, or its metrics stopping).
    pub fn internal(e: impl std::fmt::Debug) -> CloudWatchError {
        tracing::error!(error = ?e, "cloudwatch request failed");
        CloudWatchError::Internal("The server encountered an internal error.".into())
    }
}
