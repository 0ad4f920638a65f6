//! Helpers for reading requests: JSON bodies, query strings, function references.

use crate::ApiState;
use ignis_model::{FunctionRef, Qualifier};
use ignis_wire::LambdaApiError;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

/// Parses a JSON body; malformed JSON is `InvalidRequestContentException`.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, LambdaApiError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        LambdaApiError::InvalidRequestContent(format!(
            "Could not parse request body into json: {e}"
        ))
    })
}

/// The query string's pairs, percent-decoded, repeats kept in order.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// The first value of a query parameter.
pub fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// "Function not found: <arn>", as AWS words it.
pub fn function_not_found(
    state: &ApiState,
    name: &str,
    qualifier: Option<&Qualifier>,
) -> LambdaApiError {
    let arn = match qualifier {
        Some(q) => state.account.qualified_arn(name, &q.to_string()),
        None => state.account.function_arn(name),
    };
    LambdaApiError::ResourceNotFound(format!("Function not found: {arn}"))
}

/// Parses the `{FunctionName}` path label plus `?Qualifier=`, and checks that an ARN names this
/// node's account and region.
pub fn function_ref(
    state: &ApiState,
    name: &str,
    query: Option<&str>,
) -> Result<FunctionRef, LambdaApiError> {
    let r = FunctionRef::parse(name)?
        .with_query_qualifier(query_value(query, "Qualifier").as_deref())?;
    if !r.belongs_to(&state.account) {
        return Err(function_not_found(state, &r.name, r.qualifier.as_ref()));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_and_keep_repeats() {
        let q = query_pairs(Some("tagKeys=a&tagKeys=b%20c&Qualifier=%24LATEST&flag"));
        assert_eq!(
            q,
            vec![
                ("tagKeys".into(), "a".into()),
                ("tagKeys".into(), "b c".into()),
                ("Qualifier".into(), "$LATEST".into()),
                ("flag".into(), String::new()),
            ]
        );
    }

    #[test]
    fn bad_json_is_invalid_request_content() {
        let e = json::<serde_json::Value>(b"{not json").unwrap_err();
        assert_eq!(e.error_type(), "InvalidRequestContentException");
    }
}
