//! `LogsError`: the one type that becomes a CloudWatch Logs error response, JSON 1.1's
//! `{"__type": "<code>", "message": "<text>"}` with the status AWS answers it with.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// A CloudWatch Logs error, by botocore's error shape names.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A SigV4 failure: its AWS type and message.
    #[error("{1}")]
    Auth(&'static str, String),
}

impl LogsError {
    pub fn error_type(&self) -> &'static str {
        match self {
            LogsError::InvalidParameter(_) => "InvalidParameterException",
            LogsError::Validation(_) => "ValidationException",
            LogsError::ResourceNotFound(_) => "ResourceNotFoundException",
            LogsError::ResourceAlreadyExists(_) => "ResourceAlreadyExistsException",
            LogsError::LimitExceeded(_) => "LimitExceededException",
            LogsError::TooManyTags(_) => "TooManyTagsException",
            LogsError::UnknownOperation(_) => "UnknownOperationException",
            LogsError::Serialization(_) => "SerializationException",
            LogsError::ServiceUnavailable(_) => "ServiceUnavailableException",
            LogsError::Auth(t, _) => t,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            LogsError::ServiceUnavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
            LogsError::Auth("MissingAuthenticationTokenException", _) => StatusCode::FORBIDDEN,
            LogsError::Auth(..) => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn no_group() -> LogsError {
        LogsError::ResourceNotFound("The specified log group does not exist.".into())
    }

    pub fn no_stream() -> LogsError {
        LogsError::ResourceNotFound("The specified log stream does not exist.".into())
    }

    pub fn bad_token() -> LogsError {
        LogsError::InvalidParameter("The specified nextToken is invalid.".into())
    }
}

impl From<ignis_logs::LogError> for LogsError {
    fn from(e: ignis_logs::LogError) -> LogsError {
        use ignis_logs::LogError;
        match e {
            LogError::GroupExists => {
                LogsError::ResourceAlreadyExists("The specified log group already exists".into())
            }
            LogError::StreamExists => {
                LogsError::ResourceAlreadyExists("The specified log stream already exists".into())
            }
            LogError::NoGroup => LogsError::no_group(),
            LogError::NoStream => LogsError::no_stream(),
            LogError::TooManyGroups(_) => {
                LogsError::LimitExceeded("Resource limit exceeded.".into())
            }
            e @ (LogError::Io { .. } | LogError::Task(_)) => {
                tracing::error!(error = %e, "log store failed");
                LogsError::ServiceUnavailable("The service cannot complete the request.".into())
            }
        }
    }
}

impl IntoResponse for LogsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"__type": self.error_type(), "message": self.to_string()});
        let mut response = (self.status(), body.to_string()).into_response();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(crate::CONTENT_TYPE),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_is_its_type_and_message() {
        let r = LogsError::no_group().into_response();
        assert_eq!(r.status(), 400);
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"__type": "ResourceNotFoundException",
                "message": "The specified log group does not exist."})
        );
    }
}
