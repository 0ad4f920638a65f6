//! Lambda's timestamp formats.

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `LastModified` as Lambda writes it: `2019-09-23T18:32:33.857+0000`.
pub fn last_modified(epoch_ms: i64) -> String {
    let t: DateTime<Utc> = Utc
        .timestamp_millis_opt(epoch_ms)
        .single()
        .unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// A function URL's `CreationTime` and `LastModifiedTime` as Lambda writes them, ISO 8601 in
/// UTC with microseconds: `2021-10-27T17:25:21.016303Z`.
pub fn iso8601_micros(epoch_micros: i64) -> String {
    let t: DateTime<Utc> = DateTime::from_timestamp_micros(epoch_micros).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_has_millis_and_plus_0000() {
        assert_eq!(
            last_modified(1_569_263_553_857),
            "2019-09-23T18:32:33.857+0000"
        );
        assert_eq!(last_modified(0), "1970-01-01T00:00:00.000+0000");
    }

    #[test]
    fn url_times_have_micros_and_z() {
        assert_eq!(
            iso8601_micros(1_635_355_521_016_303),
            "2021-10-27T17:25:21.016303Z"
        );
    }
}
