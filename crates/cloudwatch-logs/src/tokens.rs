//! Pagination tokens: opaque to clients (URL-safe base64 of a small JSON value), checked on the
//! way back in; one that does not decode is AWS's "The specified nextToken is invalid."

use crate::LogsError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub fn encode<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("tokens serialise"))
}

pub fn decode<T: DeserializeOwned>(token: &str) -> Result<T, LogsError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| LogsError::bad_token())?;
    serde_json::from_slice(&bytes).map_err(|_| LogsError::bad_token())
}

/// A token's value, when there is one.
pub fn decode_opt<T: DeserializeOwned>(token: Option<&str>) -> Result<Option<T>, LogsError> {
    token.map(decode).transpose()
}
