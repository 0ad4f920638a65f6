//! Header names, written once.

pub const ERROR_TYPE: &str = "x-amzn-ErrorType";
pub const REQUEST_ID: &str = "x-amzn-RequestId";
pub const INVOCATION_TYPE: &str = "x-amz-invocation-type";
pub const LOG_TYPE: &str = "x-amz-log-type";
pub const CLIENT_CONTEXT: &str = "x-amz-client-context";
pub const FUNCTION_ERROR: &str = "x-amz-function-error";
pub const LOG_RESULT: &str = "x-amz-log-result";
pub const EXECUTED_VERSION: &str = "x-amz-executed-version";
pub const RETRY_AFTER: &str = "Retry-After";
