//! Reading the signature parameters from the `Authorization` header or a presigned URL's query.

use chrono::{DateTime, NaiveDateTime, Utc};
use http::HeaderMap;

use crate::SigV4Error;
use crate::canonical::{ALGORITHM, TERMINATOR, decode_query_component};

/// `YYYYMMDDTHHMMSSZ`, the ISO 8601 basic format SigV4 uses.
pub(crate) const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// Longest `X-Amz-Expires` AWS accepts: seven days.
pub(crate) const MAX_EXPIRES_SECS: u64 = 604_800;

/// The signature parameters of a request, whichever form they came in.
#[derive(Debug)]
pub(crate) struct AuthParams {
    pub(crate) access_key_id: String,
    pub(crate) scope_date: String,
    pub(crate) region: String,
    pub(crate) service: String,
    /// Lowercase, in the order the client listed them.
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: String,
    /// The request time as sent in `X-Amz-Date` (or converted from `Date`), `YYYYMMDDTHHMMSSZ`.
    pub(crate) amz_date: String,
    pub(crate) request_time: DateTime<Utc>,
    /// `Some` for the presigned-query form (`X-Amz-Expires`, if sent).
    pub(crate) presigned: Option<Option<u64>>,
}

/// Finds and parses the signature parameters: the `Authorization` header wins over presigning
/// query parameters.
pub(crate) fn auth_params(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<AuthParams, SigV4Error> {
    if let Some(authorization) = headers.get(http::header::AUTHORIZATION) {
        return from_header(authorization.as_bytes(), headers);
    }
    if let Some(query) = query {
        let params = query_params(query);
        if params.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
            return from_query(&params);
        }
    }
    Err(SigV4Error::MissingAuthenticationToken)
}

fn from_header(raw: &[u8], headers: &HeaderMap) -> Result<AuthParams, SigV4Error> {
    let authorization = String::from_utf8_lossy(raw);
    let (algorithm, rest) = authorization
        .trim()
        .split_once([' ', '\t'])
        .unwrap_or((authorization.trim(), ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        slot.get_or_insert_with(|| value.trim().to_owned());
    }

    let date = request_date_from_headers(headers);
    let mut message = String::new();
    if algorithm != ALGORITHM {
        message.push_str(&format!(
            "Unsupported AWS 'algorithm': '{algorithm}'; only '{ALGORITHM}' is supported. "
        ));
    }
    for (value, name) in [
        (&credential, "Credential"),
        (&signature, "Signature"),
        (&signed_headers, "SignedHeaders"),
    ] {
        if value.as_deref().is_none_or(str::is_empty) {
            message.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        message.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(date)) =
        (credential, signed_headers, signature, date)
    else {
        message.push_str(&format!("Authorization={authorization}"));
        return Err(SigV4Error::IncompleteSignature(message));
    };
    if !message.is_empty() {
        message.push_str(&format!("Authorization={authorization}"));
        return Err(SigV4Error::IncompleteSignature(message));
    }
    let (amz_date, request_time) = parse_request_date(&date)?;
    finish(
        &credential,
        &signed_headers,
        signature,
        amz_date,
        request_time,
        None,
    )
}

fn from_query(params: &[(String, String)]) -> Result<AuthParams, SigV4Error> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut message = String::new();
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ] {
        if get(name).is_none_or(str::is_empty) {
            message.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    if !message.is_empty() {
        message.push_str("Re-examine the query-string parameters.");
        return Err(SigV4Error::IncompleteSignature(message));
    }
    let algorithm = get("X-Amz-Algorithm").unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'; only '{ALGORITHM}' is supported."
        )));
    }
    let expires = match get("X-Amz-Expires") {
        None => None,
        Some(raw) => {
            let secs: u64 = raw.parse().map_err(|_| {
                SigV4Error::IncompleteSignature(format!(
                    "X-Amz-Expires should be a number, got '{raw}'."
                ))
            })?;
            if secs > MAX_EXPIRES_SECS {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES_SECS}"
                )));
            }
            Some(secs)
        }
    };
    let (amz_date, request_time) = parse_request_date(get("X-Amz-Date").unwrap_or_default())?;
    finish(
        get("X-Amz-Credential").unwrap_or_default(),
        get("X-Amz-SignedHeaders").unwrap_or_default(),
        get("X-Amz-Signature").unwrap_or_default().to_owned(),
        amz_date,
        request_time,
        Some(expires),
    )
}

fn finish(
    credential: &str,
    signed_headers: &str,
    signature: String,
    amz_date: String,
    request_time: DateTime<Utc>,
    presigned: Option<Option<u64>>,
) -> Result<AuthParams, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if access_key_id.is_empty() || scope_date.is_empty() || service.is_empty() {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    }
    if region.is_empty() {
        return Err(SigV4Error::IncompleteSignature(
            "Credential should be scoped to a valid region. ".to_owned(),
        ));
    }
    if terminator != TERMINATOR {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )));
    }
    let signed_headers: Vec<String> = signed_headers
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if signed_headers.iter().any(String::is_empty) {
        return Err(SigV4Error::IncompleteSignature(
            "SignedHeaders must be a non-empty ';'-separated list of header names.".to_owned(),
        ));
    }
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    Ok(AuthParams {
        access_key_id: access_key_id.to_owned(),
        scope_date: scope_date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature,
        amz_date,
        request_time,
        presigned,
    })
}

/// The decoded `(key, value)` pairs of a query string, in order.
fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (
                String::from_utf8_lossy(&decode_query_component(key)).into_owned(),
                String::from_utf8_lossy(&decode_query_component(value)).into_owned(),
            )
        })
        .collect()
}

/// The first `X-Amz-Date` header, else the first `Date` header.
fn request_date_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-amz-date")
        .or_else(|| headers.get(http::header::DATE))
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

/// Parses a request time given as `YYYYMMDDTHHMMSSZ` (or, from a `Date` header, as an HTTP date)
/// and returns it in `YYYYMMDDTHHMMSSZ` form too.
pub(crate) fn parse_request_date(raw: &str) -> Result<(String, DateTime<Utc>), SigV4Error> {
    if raw.len() == 16
        && let Ok(time) = NaiveDateTime::parse_from_str(raw, AMZ_DATE_FORMAT)
    {
        return Ok((raw.to_owned(), time.and_utc()));
    }
    if let Ok(time) = DateTime::parse_from_rfc2822(raw) {
        let time = time.with_timezone(&Utc);
        return Ok((time.format(AMZ_DATE_FORMAT).to_string(), time));
    }
    Err(SigV4Error::IncompleteSignature(format!(
        "Date must be in ISO-8601 'basic format'. Got '{raw}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )))
}
