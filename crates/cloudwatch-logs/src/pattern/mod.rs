//! CloudWatch Logs filter patterns, parsed once per request and matched against each event:
//!
//! - terms (`ERROR`, `"an exact phrase"`), all of which must appear (case-sensitively);
//! - `?term` alternatives, of which one must appear; `-term` exclusions, none of which may;
//! - JSON patterns (`{ $.level = "ERROR" && ($.latency > 100 || $.retry IS TRUE) }`) over events
//!   whose message is JSON, with `=`, `!=` (strings with `*` wildcards, or numbers), `<`, `>`,
//!   `<=`, `>=` (numbers), `IS NULL`, `IS TRUE`, `IS FALSE`, `EXISTS`, `NOT EXISTS`, `&&`, `||`
//!   and parentheses (`json.rs`).
//!
//! Space-delimited (`[ip, user, …]`) and regular-expression (`%…%`) patterns are refused with
//! `InvalidParameterException` naming them as not built.

mod json;

use crate::LogsError;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The empty pattern: every event.
    All,
    Terms {
        all: Vec<String>,
        any: Vec<String>,
        none: Vec<String>,
    },
    Json(json::Expr),
}

pub(crate) fn invalid(detail: &str) -> LogsError {
    LogsError::InvalidParameter(format!("Invalid filter pattern: {detail}"))
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, LogsError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Pattern::All);
        }
        if text.starts_with('{') {
            return json::parse(text).map(Pattern::Json);
        }
        if text.starts_with('[') || text.starts_with('%') {
            return Err(LogsError::InvalidParameter(
                "Space-delimited ([…]) and regular-expression (%…%) filter patterns are not \
                 supported by Ignis yet."
                    .into(),
            ));
        }
        let (mut all, mut any, mut none) = (Vec::new(), Vec::new(), Vec::new());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c.is_whitespace() {
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let (list, body) = match c {
                '?' => (&mut any, &rest[1..]),
                '-' if rest.len() > 1 => (&mut none, &rest[1..]),
                _ => (&mut all, rest),
            };
            let (term, after) = if let Some(quoted) = body.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| invalid("an unterminated quoted phrase"))?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], &body[end..])
            };
            if !term.is_empty() {
                list.push(term.to_string());
            }
            rest = after;
        }
        Ok(Pattern::Terms { all, any, none })
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms { all, any, none } => {
                all.iter().all(|t| message.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| message.contains(t.as_str())))
                    && !none.iter().any(|t| message.contains(t.as_str()))
            }
            Pattern::Json(expr) => {
                match serde_json::from_str::<serde_json::Value>(message.trim()) {
                    Ok(v) => expr.eval(&v),
                    Err(_) => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn terms_phrases_alternatives_and_exclusions() {
        assert!(m("", "anything"));
        assert!(m("ERROR", "[ERROR] disk full"));
        assert!(!m("ERROR", "[error] disk full"));
        assert!(m("ERROR disk", "[ERROR] disk full"));
        assert!(!m("ERROR memory", "[ERROR] disk full"));
        assert!(m("\"disk full\"", "[ERROR] disk full"));
        assert!(!m("\"full disk\"", "[ERROR] disk full"));
        assert!(m("?ERROR ?WARN", "WARN low"));
        assert!(!m("?ERROR ?WARN", "INFO ok"));
        assert!(m("ERROR -timeout", "ERROR disk"));
        assert!(!m("ERROR -timeout", "ERROR timeout"));
        assert!(!m("-\"socket closed\" x", "x socket closed"));
        assert!(Pattern::parse("\"open").is_err());
        assert!(Pattern::parse("[ip, user]").is_err());
    }
}
