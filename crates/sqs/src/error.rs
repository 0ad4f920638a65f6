//! `SqsError`: the one type that becomes an SQS error response. JSON 1.0's
//! `{"__type": "com.amazonaws.sqs#<Shape>", "message": ...}`, and, because the model is
//! `awsQueryCompatible`, the query protocol's code in `x-amzn-query-error: <Code>;<Fault>`,
//! which the SDKs report as the error's code.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// An SQS error: botocore's error shape (or a common error), and its message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqsError {
    pub kind: Kind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    QueueDoesNotExist,
    QueueNameExists,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidMessageContents,
    InvalidParameterValue,
    MissingParameter,
    ReceiptHandleIsInvalid,
    MessageNotInflight,
    PurgeQueueInProgress,
    OverLimit,
    EmptyBatchRequest,
    TooManyEntriesInBatchRequest,
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    InvalidBatchEntryId,
    InvalidAddress,
    UnsupportedOperation,
    InvalidAction,
    Serialization,
    InternalError,
    /// The caller's policies do not allow the request.
    AccessDenied,
    /// A SigV4 failure, by its AWS type.
    Auth(&'static str),
}

impl Kind {
    /// (`__type` shape, query code, status).
    fn wire(self) -> (&'static str, &'static str, StatusCode) {
        use Kind::*;
        let bad = StatusCode::BAD_REQUEST;
        match self {
            QueueDoesNotExist => (
                "com.amazonaws.sqs#QueueDoesNotExist",
                "AWS.SimpleQueueService.NonExistentQueue",
                bad,
            ),
            QueueNameExists => (
                "com.amazonaws.sqs#QueueNameExists",
                "QueueAlreadyExists",
                bad,
            ),
            InvalidAttributeName => (
                "com.amazonaws.sqs#InvalidAttributeName",
                "InvalidAttributeName",
                bad,
            ),
            InvalidAttributeValue => (
                "com.amazonaws.sqs#InvalidAttributeValue",
                "InvalidAttributeValue",
                bad,
            ),
            InvalidMessageContents => (
                "com.amazonaws.sqs#InvalidMessageContents",
                "InvalidMessageContents",
                bad,
            ),
            InvalidParameterValue => (
                "com.amazon.coral.validate#ValidationException",
                "InvalidParameterValue",
                bad,
            ),
            MissingParameter => (
                "com.amazon.coral.validate#ValidationException",
                "MissingParameter",
                bad,
            ),
            ReceiptHandleIsInvalid => (
                "com.amazonaws.sqs#ReceiptHandleIsInvalid",
                "ReceiptHandleIsInvalid",
                StatusCode::NOT_FOUND,
            ),
            MessageNotInflight => (
                "com.amazonaws.sqs#MessageNotInflight",
                "AWS.SimpleQueueService.MessageNotInflight",
                bad,
            ),
            PurgeQueueInProgress => (
                "com.amazonaws.sqs#PurgeQueueInProgress",
                "AWS.SimpleQueueService.PurgeQueueInProgress",
                StatusCode::FORBIDDEN,
            ),
            OverLimit => (
                "com.amazonaws.sqs#OverLimit",
                "OverLimit",
                StatusCode::FORBIDDEN,
            ),
            EmptyBatchRequest => (
                "com.amazonaws.sqs#EmptyBatchRequest",
                "AWS.SimpleQueueService.EmptyBatchRequest",
                bad,
            ),
            TooManyEntriesInBatchRequest => (
                "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                bad,
            ),
            BatchEntryIdsNotDistinct => (
                "com.amazonaws.sqs#BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                bad,
            ),
            BatchRequestTooLong => (
                "com.amazonaws.sqs#BatchRequestTooLong",
                "AWS.SimpleQueueService.BatchRequestTooLong",
                bad,
            ),
            InvalidBatchEntryId => (
                "com.amazonaws.sqs#InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                bad,
            ),
            InvalidAddress => (
                "com.amazonaws.sqs#InvalidAddress",
                "InvalidAddress",
                StatusCode::NOT_FOUND,
            ),
            UnsupportedOperation => (
                "com.amazonaws.sqs#UnsupportedOperation",
                "AWS.SimpleQueueService.UnsupportedOperation",
                bad,
            ),
            InvalidAction => (
                "com.amazonaws.sqs#UnsupportedOperation",
                "InvalidAction",
                bad,
            ),
            Serialization => (
                "com.amazonaws.sqs#InvalidParameterValue",
                "MalformedQueryString",
                bad,
            ),
            InternalError => (
                "com.amazonaws.sqs#InternalError",
                "InternalError",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            AccessDenied => (
                "com.amazon.coral.service#AccessDeniedException",
                "AccessDenied",
                StatusCode::FORBIDDEN,
            ),
            Auth("MissingAuthenticationTokenException") => (
                "com.amazonaws.sqs#MissingAuthenticationToken",
                "MissingAuthenticationToken",
                StatusCode::FORBIDDEN,
            ),
            Auth(t) => (t, t, StatusCode::FORBIDDEN),
        }
    }
}

impl SqsError {
    pub fn new(kind: Kind, message: impl Into<String>) -> SqsError {
        SqsError {
            kind,
            message: message.into(),
        }
    }

    pub fn no_queue() -> SqsError {
        SqsError::new(
            Kind::QueueDoesNotExist,
            "The specified queue does not exist.",
        )
    }

    pub fn invalid(message: impl Into<String>) -> SqsError {
        SqsError::new(Kind::InvalidParameterValue, message)
    }

    pub fn missing(name: &str) -> SqsError {
        SqsError::new(
            Kind::MissingParameter,
            format!("The request must contain the parameter {name}."),
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> SqsError {
        tracing::error!(error = %e, "sqs storage failed");
        SqsError::new(
            Kind::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }

    /// The query code (what the SDKs call the error's code) and whether the sender is at fault.
    pub fn code(&self) -> &'static str {
        self.kind.wire().1
    }

    pub fn sender_fault(&self) -> bool {
        self.kind.wire().2.is_client_error()
    }

    pub fn status(&self) -> StatusCode {
        self.kind.wire().2
    }
}

impl IntoResponse for SqsError {
    fn into_response(self) -> Response {
        let (shape, code, status) = self.kind.wire();
        let body = serde_json::json!({"__type": shape, "message": self.message});
        let fault = if status.is_client_error() {
            "Sender"
        } else {
            "Receiver"
        };
        let mut r = (status, body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(crate::CONTENT_TYPE),
        );
        if let Ok(v) = http::HeaderValue::from_str(&format!("{code};{fault}")) {
            h.insert(crate::QUERY_ERROR_HEADER, v);
        }
        r
    }
}
