//! [`LambdaApiError`]: every failure of a control-plane request, with the HTTP status, the
//! `x-amzn-ErrorType` and the JSON body AWS sends for it.

use crate::headers;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

/// An error answer of the Lambda API. Each variant carries the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LambdaApiError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceConflict(String),
    #[error("{0}")]
    ProvisionedConcurrencyConfigNotFound(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A modelled constraint failed (pattern, range, enum), as AWS's front end reports it.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidRequestContent(String),
    /// A control-plane request body over its limit.
    #[error("{0}")]
    RequestTooLarge(String),
    /// An Invoke request body over 6 MB (AWS answers with this unmodelled name).
    #[error("{0}")]
    RequestEntityTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// A resource-based policy would grow past 20 KB.
    #[error("{0}")]
    PolicyLengthExceeded(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        reason: &'static str,
        retry_after_seconds: u32,
    },
    #[error("{0}")]
    InvalidZipFile(String),
    /// The function's runtime cannot run on this node.
    #[error("{0}")]
    InvalidRuntime(String),
    #[error("{0}")]
    CodeStorageExceeded(String),
    #[error("{0}")]
    MissingAuthenticationToken(String),
    #[error("{0}")]
    IncompleteSignature(String),
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    UnrecognizedClient(String),
    /// Temporary credentials past their expiry.
    #[error("{0}")]
    ExpiredToken(String),
    #[error("{0}")]
    AccessDenied(String),
    /// No operation has this method and path.
    #[error("{0}")]
    UnknownOperation(String),
    /// An operation or option Ignis does not provide yet.
    #[error("{0}")]
    NotImplemented(String),
    /// An internal failure; the message is generic, the cause is logged.
    #[error("{0}")]
    Service(String),
}

impl LambdaApiError {
    /// Every variant once, for table tests.
    pub fn examples() -> Vec<LambdaApiError> {
        use LambdaApiError::*;
        let m = || "m".to_string();
        vec![
            ResourceNotFound(m()),
            ResourceConflict(m()),
            ProvisionedConcurrencyConfigNotFound(m()),
            InvalidParameterValue(m()),
            Validation(m()),
            InvalidRequestContent(m()),
            RequestTooLarge(m()),
            RequestEntityTooLarge(m()),
            UnsupportedMediaType(m()),
            PreconditionFailed(m()),
            PolicyLengthExceeded(m()),
            TooManyRequests {
                message: m(),
                reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                retry_after_seconds: 1,
            },
            InvalidZipFile(m()),
            InvalidRuntime(m()),
            CodeStorageExceeded(m()),
            MissingAuthenticationToken(m()),
            IncompleteSignature(m()),
            InvalidSignature(m()),
            UnrecognizedClient(m()),
            ExpiredToken(m()),
            AccessDenied(m()),
            UnknownOperation(m()),
            NotImplemented(m()),
            Service(m()),
        ]
    }

    pub fn status(&self) -> StatusCode {
        use LambdaApiError::*;
        match self {
            ResourceNotFound(_) | ProvisionedConcurrencyConfigNotFound(_) | UnknownOperation(_) => {
                StatusCode::NOT_FOUND
            }
            ResourceConflict(_) => StatusCode::CONFLICT,
            InvalidParameterValue(_)
            | Validation(_)
            | InvalidRequestContent(_)
            | CodeStorageExceeded(_) => StatusCode::BAD_REQUEST,
            RequestTooLarge(_) | RequestEntityTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            PolicyLengthExceeded(_) => StatusCode::BAD_REQUEST,
            TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            InvalidZipFile(_) | InvalidRuntime(_) => StatusCode::BAD_GATEWAY,
            MissingAuthenticationToken(_)
            | IncompleteSignature(_)
            | InvalidSignature(_)
            | UnrecognizedClient(_)
            | ExpiredToken(_)
            | AccessDenied(_) => StatusCode::FORBIDDEN,
            NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `x-amzn-ErrorType` value, which the SDKs turn into an exception class.
    pub fn error_type(&self) -> &'static str {
        use LambdaApiError::*;
        match self {
            ResourceNotFound(_) => "ResourceNotFoundException",
            ResourceConflict(_) => "ResourceConflictException",
            ProvisionedConcurrencyConfigNotFound(_) => {
                "ProvisionedConcurrencyConfigNotFoundException"
            }
            InvalidParameterValue(_) => "InvalidParameterValueException",
            Validation(_) => "ValidationException",
            InvalidRequestContent(_) => "InvalidRequestContentException",
            RequestTooLarge(_) => "RequestTooLargeException",
            RequestEntityTooLarge(_) => "RequestEntityTooLargeException",
            UnsupportedMediaType(_) => "UnsupportedMediaTypeException",
            PreconditionFailed(_) => "PreconditionFailedException",
            PolicyLengthExceeded(_) => "PolicyLengthExceededException",
            TooManyRequests { .. } => "TooManyRequestsException",
            InvalidZipFile(_) => "InvalidZipFileException",
            InvalidRuntime(_) => "InvalidRuntimeException",
            CodeStorageExceeded(_) => "CodeStorageExceededException",
            MissingAuthenticationToken(_) => "MissingAuthenticationTokenException",
            IncompleteSignature(_) => "IncompleteSignatureException",
            InvalidSignature(_) => "InvalidSignatureException",
            UnrecognizedClient(_) => "UnrecognizedClientException",
            ExpiredToken(_) => "ExpiredTokenException",
            AccessDenied(_) => "AccessDeniedException",
            UnknownOperation(_) => "UnknownOperationException",
            NotImplemented(_) => "NotImplementedException",
            Service(_) => "ServiceException",
        }
    }

    /// The members of the JSON body, exactly as AWS sends them for this error type.
    ///
    /// Modelled exceptions (botocore's `service-2.json`) carry `Type` and their message member
    /// as the shape spells it (`Message` or `message`), `TooManyRequestsException` also its
    /// `Reason` (its `retryAfterSeconds` is the `Retry-After` header); AWS's recordings show
    /// these members on every modelled error. Errors the model does not declare come from
    /// AWS's front end (validation, authentication, routing, body size) and carry only their
    /// message, no `Type`.
    pub fn members(&self) -> &'static [&'static str] {
        use LambdaApiError::*;
        match self {
            ResourceNotFound(_) | InvalidZipFile(_) | InvalidRuntime(_) | Service(_) => {
                &["Type", "Message"]
            }
            ResourceConflict(_)
            | ProvisionedConcurrencyConfigNotFound(_)
            | InvalidParameterValue(_)
            | InvalidRequestContent(_)
            | RequestTooLarge(_)
            | UnsupportedMediaType(_)
            | PreconditionFailed(_)
            | PolicyLengthExceeded(_)
            | CodeStorageExceeded(_) => &["Type", "message"],
            TooManyRequests { .. } => &["Type", "message", "Reason"],
            RequestEntityTooLarge(_) => &["Message"],
            Validation(_)
            | MissingAuthenticationToken(_)
            | IncompleteSignature(_)
            | InvalidSignature(_)
            | UnrecognizedClient(_)
            | ExpiredToken(_)
            | AccessDenied(_)
            | UnknownOperation(_)
            | NotImplemented(_) => &["message"],
        }
    }

    /// The JSON body: the [`members`](Self::members) of this error type and no others.
    pub fn body(&self) -> serde_json::Value {
        let kind = if self.status().is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut body = serde_json::Map::new();
        for member in self.members() {
            let value = match *member {
                "Type" => serde_json::Value::from(kind),
                "Reason" => match self {
                    LambdaApiError::TooManyRequests { reason, .. } => {
                        serde_json::Value::from(*reason)
                    }
                    _ => continue,
                },
                _ => serde_json::Value::from(self.to_string()),
            };
            body.insert((*member).to_string(), value);
        }
        serde_json::Value::Object(body)
    }
}

impl IntoResponse for LambdaApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            [(http::header::CONTENT_TYPE, "application/json")],
            self.body().to_string(),
        )
            .into_response();
        let h = response.headers_mut();
        h.insert(
            headers::ERROR_TYPE,
            HeaderValue::from_static(self.error_type()),
        );
        if let LambdaApiError::TooManyRequests {
            retry_after_seconds,
            ..
        } = &self
        {
            h.insert(
                headers::RETRY_AFTER,
                HeaderValue::from(*retry_after_seconds),
            );
        }
        response
    }
}

impl From<ignis_model::ValidationError> for LambdaApiError {
    fn from(e: ignis_model::ValidationError) -> LambdaApiError {
        match e {
            ignis_model::ValidationError::Constraint { .. }
            | ignis_model::ValidationError::Null { .. }
            | ignis_model::ValidationError::Constraints(_) => {
                LambdaApiError::Validation(e.to_string())
            }
            ignis_model::ValidationError::InvalidParameter(m) => {
                LambdaApiError::InvalidParameterValue(m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Status, error type and the exact member set of the body of every variant, against the
    /// service model's exception shapes (botocore `service-2.json`) and AWS's recorded answers
    /// for the unmodelled ones.
    #[test]
    fn every_variant_has_its_wire_form() {
        let expected: &[(&str, u16, &[&str])] = &[
            ("ResourceNotFoundException", 404, &["Message", "Type"]),
            ("ResourceConflictException", 409, &["Type", "message"]),
            (
                "ProvisionedConcurrencyConfigNotFoundException",
                404,
                &["Type", "message"],
            ),
            ("InvalidParameterValueException", 400, &["Type", "message"]),
            ("ValidationException", 400, &["message"]),
            ("InvalidRequestContentException", 400, &["Type", "message"]),
            ("RequestTooLargeException", 413, &["Type", "message"]),
            ("RequestEntityTooLargeException", 413, &["Message"]),
            ("UnsupportedMediaTypeException", 415, &["Type", "message"]),
            ("PreconditionFailedException", 412, &["Type", "message"]),
            ("PolicyLengthExceededException", 400, &["Type", "message"]),
            (
                "TooManyRequestsException",
                429,
                &["Reason", "Type", "message"],
            ),
            ("InvalidZipFileException", 502, &["Message", "Type"]),
            ("InvalidRuntimeException", 502, &["Message", "Type"]),
            ("CodeStorageExceededException", 400, &["Type", "message"]),
            ("MissingAuthenticationTokenException", 403, &["message"]),
            ("IncompleteSignatureException", 403, &["message"]),
            ("InvalidSignatureException", 403, &["message"]),
            ("UnrecognizedClientException", 403, &["message"]),
            ("ExpiredTokenException", 403, &["message"]),
            ("AccessDeniedException", 403, &["message"]),
            ("UnknownOperationException", 404, &["message"]),
            ("NotImplementedException", 501, &["message"]),
            ("ServiceException", 500, &["Message", "Type"]),
        ];
        let all = LambdaApiError::examples();
        assert_eq!(all.len(), expected.len());
        for (err, (ty, status, members)) in all.into_iter().zip(expected) {
            let response = err.clone().into_response();
            assert_eq!(response.status().as_u16(), *status, "{ty}");
            assert_eq!(response.headers()[headers::ERROR_TYPE], *ty);
            let body = err.body();
            let keys: Vec<&str> = body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, *members, "{ty}: exactly these members");
            let message = members.iter().find(|m| m.eq_ignore_ascii_case("message"));
            assert_eq!(body[*message.unwrap()], "m", "{ty}");
            if members.contains(&"Type") {
                let kind = if *status >= 500 { "Service" } else { "User" };
                assert_eq!(body["Type"], kind, "{ty}");
            }
            if *ty == "TooManyRequestsException" {
                assert_eq!(response.headers()[headers::RETRY_AFTER], "1");
                assert_eq!(
                    body["Reason"],
                    "ReservedFunctionConcurrentInvocationLimitExceeded"
                );
            }
        }
    }
}
