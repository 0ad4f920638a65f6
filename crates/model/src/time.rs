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
}
