//! IAM's and STS's errors: a code, an HTTP status and a message, answered as the query
//! protocol's `<ErrorResponse>`.

use crate::query::escape;
use axum::response::Response;
use http::StatusCode;

#[derive(Debug, Clone)]
pub struct IamError {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl IamError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> IamError {
        IamError {
            code,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message: message.into(),
        }
    }

    pub fn no_such_entity(message: impl Into<String>) -> IamError {
        IamError::new("NoSuchEntity", 404, message)
    }

    pub fn exists(message: impl Into<String>) -> IamError {
        IamError::new("EntityAlreadyExists", 409, message)
    }

    pub fn conflict(message: impl Into<String>) -> IamError {
        IamError::new("DeleteConflict", 409, message)
    }

    pub fn limit(message: impl Into<String>) -> IamError {
        IamError::new("LimitExceeded", 409, message)
    }

    pub fn malformed(message: impl Into<String>) -> IamError {
        IamError::new("MalformedPolicyDocument", 400, message)
    }

    pub fn validation(message: impl Into<String>) -> IamError {
        IamError::new("ValidationError", 400, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> IamError {
        IamError::new("InvalidInput", 400, message)
    }

    pub fn access_denied(message: impl Into<String>) -> IamError {
        IamError::new("AccessDenied", 403, message)
    }

    pub fn internal() -> IamError {
        IamError::new(
            "ServiceFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// A request refused before it was proven.
    pub fn auth(e: ignis_front::signed::AuthError) -> IamError {
        use ignis_front::signed::AuthError;
        let message = e.to_string();
        match e {
            AuthError::Signature(e) => match e.aws_error_type() {
                "MissingAuthenticationTokenException" => IamError::new(
                    "MissingAuthenticationToken",
                    403,
                    "Request is missing Authentication Token",
                ),
                "IncompleteSignatureException" => {
                    IamError::new("IncompleteSignature", 400, message)
                }
                "UnrecognizedClientException" => {
                    IamError::new("InvalidClientTokenId", 403, message)
                }
                _ => IamError::new("SignatureDoesNotMatch", 403, message),
            },
            AuthError::InvalidToken => IamError::new("InvalidClientTokenId", 403, message),
            AuthError::ExpiredToken => IamError::new("ExpiredToken", 403, message),
            AuthError::Body(ignis_front::BodyError::TooLarge { .. }) => {
                IamError::validation("The request is too large.")
            }
            AuthError::Body(ignis_front::BodyError::Busy) => {
                IamError::new("Throttling", 400, "Rate exceeded")
            }
            AuthError::Body(_) => {
                IamError::invalid_input("The request body could not be read completely.")
            }
        }
    }

    /// The `<ErrorResponse>` document in `namespace` (IAM's or STS's).
    pub fn into_response(self, namespace: &str, request_id: &str) -> Response {
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.code,
            escape(&self.message)
        );
        crate::xml_response(self.status, body, request_id)
    }
}

impl From<ignis_identity::IdentityError> for IamError {
    fn from(e: ignis_identity::IdentityError) -> IamError {
        tracing::error!(error = ?e, "cannot store an identity change");
        IamError::internal()
    }
}
