//! Helpers for reading requests: JSON bodies, query strings, function references.

use crate::ApiState;
use ignis_model::{FunctionConfig, FunctionRef, Qualifier};
use ignis_wire::LambdaApiError;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use std::sync::Arc;

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

/// `MaxItems` from the query, which the model allows from 1 to `allowed`; an answer holds at
/// most `page` items.
pub fn max_items(
    query: Option<&str>,
    allowed: usize,
    page: usize,
) -> Result<usize, LambdaApiError> {
    match query_value(query, "MaxItems") {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=allowed).contains(m))
            .map(|m| m.min(page))
            .ok_or_else(|| {
                LambdaApiError::Validation(format!(
                    "1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and {allowed}"
                ))
            }),
        None => Ok(page),
    }
}

/// "Function not found: <arn>", as AWS words it.
pub fn function_not_found(
    state: &ApiState,
    name: &str,
    qualifier: Option<&Qualifier>,
) -> LambdaApiError {
    state.engine.function_not_found(name, qualifier)
}

/// Parses the `{FunctionName}` path label plus `?Qualifier=`, and checks that an ARN names this
/// node's account and region. An ARN of another region is answered as AWS answers it: that
/// region's functions are not reachable from here.
pub fn function_ref(
    state: &ApiState,
    name: &str,
    query: Option<&str>,
) -> Result<FunctionRef, LambdaApiError> {
    let r = FunctionRef::parse(name)?
        .with_query_qualifier(query_value(query, "Qualifier").as_deref())?;
    check_region(state, &r)?;
    if !r.belongs_to(&state.account) {
        return Err(function_not_found(state, &r.name, r.qualifier.as_ref()));
    }
    Ok(r)
}

/// An ARN of another region is answered as AWS answers it: that region's functions are not
/// reachable from here.
pub fn check_region(state: &ApiState, r: &FunctionRef) -> Result<(), LambdaApiError> {
    match r.region.as_deref() {
        Some(region) if region != state.account.region => {
            Err(LambdaApiError::ResourceNotFound(format!(
                "Functions from '{region}' are not reachable in this region ('{}')",
                state.account.region
            )))
        }
        _ => Ok(()),
    }
}

pub use ignis_engine::AliasVersion;

/// The configuration a name and qualifier refer to, from memory: `$LATEST`, a published
/// version, or an alias's version.
pub fn resolve_config(
    state: &ApiState,
    r: &FunctionRef,
    pick: AliasVersion,
) -> Result<Arc<FunctionConfig>, LambdaApiError> {
    state.engine.config(r, pick)
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
