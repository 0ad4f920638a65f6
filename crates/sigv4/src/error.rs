//! Verification errors and the AWS error types they map to.

/// Why a request failed SigV4 verification.
///
/// Every variant is answered with HTTP 403. [`SigV4Error::aws_error_type`] gives the value for the
/// `x-amzn-ErrorType` header, and `Display` gives the message for the client, worded like AWS's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor an `X-Amz-Algorithm` query parameter was sent.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,

    /// The `Authorization` header or the presigning query parameters are malformed or incomplete:
    /// a missing `Credential`, `SignedHeaders` or `Signature`, an unsupported algorithm, a credential
    /// scope that isn't `key/date/region/service/aws4_request`, no date, `host` not signed, …
    /// The string is the whole message.
    #[error("{0}")]
    IncompleteSignature(String),

    /// The access key id is not known.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,

    /// The signature does not match the one computed from the request and the secret.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    InvalidSignature,

    /// The credential scope names another service than the one this endpoint serves.
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService {
        /// The service this endpoint expects, e.g. `lambda`.
        expected: String,
    },

    /// The credential scope names another region than the one this endpoint serves.
    #[error("Credential should be scoped to a valid region, not '{region}'. ")]
    WrongRegion {
        /// The region the scope named.
        region: String,
    },

    /// The date in the credential scope is not the date of the request time.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_date}', from '{request_time}'."
    )]
    ScopeDateMismatch {
        /// The `YYYYMMDD` of the credential scope.
        scope_date: String,
        /// The `YYYYMMDD` of the request time.
        request_date: String,
        /// The request time, `YYYYMMDDTHHMMSSZ`.
        request_time: String,
    },

    /// The request time is more than the allowed skew before now, or a presigned URL has expired.
    /// All times are `YYYYMMDDTHHMMSSZ`; `window` is `15 min.` for the clock-skew check and
    /// `<X-Amz-Expires> sec.` for an expired presigned URL.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - {window})")]
    SignatureExpired {
        /// When the request says it was signed.
        request_time: String,
        /// The earliest signing time still accepted.
        earliest: String,
        /// The server's time.
        now: String,
        /// How far back signatures are accepted, e.g. `15 min.`.
        window: String,
    },

    /// The request time is more than the allowed skew after now.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + 15 min.)"
    )]
    SignatureNotYetCurrent {
        /// When the request says it was signed.
        request_time: String,
        /// The latest signing time accepted.
        latest: String,
        /// The server's time.
        now: String,
    },

    /// The signature is valid but the signed `x-amz-content-sha256` is not the hash of the body
    /// that arrived.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
}

impl SigV4Error {
    /// The AWS error type (`x-amzn-ErrorType`) for this error.
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature
            | Self::WrongService { .. }
            | Self::WrongRegion { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::PayloadHashMismatch => "InvalidSignatureException",
        }
    }

    /// The HTTP status code to answer with: always 403.
    pub fn status_code(&self) -> u16 {
        403
    }
}
