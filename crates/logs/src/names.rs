//! How log group and stream names become file names, and how a record becomes one line of a file.
//!
//! Group and stream names (`/aws/lambda/f`, `2024/01/02/[$LATEST]0123…`) hold characters that are
//! not safe in a file name. Every byte outside `[A-Za-z0-9_-]` (and a `.` that would lead the name)
//! is written as `%XX`, so the mapping is reversible and two names never share a file. A name whose
//! escaped form would be too long for a file system gets `~` plus a hash of the name instead (`~`
//! is itself always escaped, so the two forms cannot collide); such a stream is listed under that
//! hashed name.

use sha2::{Digest, Sha256};

/// Longest escaped name used as is; longer ones are hashed (file systems allow 255 bytes).
const MAX_ESCAPED_LEN: usize = 200;

/// Suffix of a stream file.
pub(crate) const STREAM_SUFFIX: &str = ".log";

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unescape(file: &str) -> Option<String> {
    let bytes = file.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = file.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn file_safe(name: &str) -> String {
    let escaped = escape(name);
    if escaped.len() <= MAX_ESCAPED_LEN {
        escaped
    } else {
        let digest = Sha256::digest(name.as_bytes());
        format!("~{}", hex::encode(&digest[..16]))
    }
}

/// The directory (under the store's root) that holds a group's streams.
pub(crate) fn group_dir(group: &str) -> String {
    file_safe(group)
}

/// The file (inside its group's directory) that holds a stream.
pub(crate) fn stream_file(stream: &str) -> String {
    format!("{}{STREAM_SUFFIX}", file_safe(stream))
}

/// The stream a file holds, or `None` for a file that is not a stream.
pub(crate) fn stream_of_file(file: &str) -> Option<String> {
    let stem = file.strip_suffix(STREAM_SUFFIX)?;
    if stem.starts_with('~') {
        return Some(stem.to_string());
    }
    unescape(stem)
}

/// Name of the file in a group's directory that holds the group's metadata.
pub(crate) const GROUP_META: &str = "group.json";

/// The group a directory holds, from its name (a hashed name cannot be reversed: its
/// metadata file names it).
pub(crate) fn group_of_dir(dir: &str) -> Option<String> {
    if dir.starts_with('~') {
        return None;
    }
    unescape(dir)
}

fn escape_message(out: &mut String, message: &str) {
    for c in message.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape_message(escaped: &str) -> String {
    let mut message = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            message.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => message.push('\n'),
            Some('r') => message.push('\r'),
            Some(other) => message.push(other),
            None => message.push('\\'),
        }
    }
    message
}

/// One record as a line: `<epoch ms>,<ingestion epoch ms>\t<message>\n`, the message with `\`,
/// newline and carriage return escaped so that a record is always exactly one line. (Files of
/// earlier releases hold `<epoch ms>\t<message>`; such a record's ingestion time is its
/// timestamp.)
pub(crate) fn encode_record(ts_ms: i64, ingestion_ms: i64, message: &str) -> String {
    let mut line = String::with_capacity(message.len() + 32);
    line.push_str(&ts_ms.to_string());
    line.push(',');
    line.push_str(&ingestion_ms.to_string());
    line.push('\t');
    escape_message(&mut line, message);
    line.push('\n');
    line
}

/// A decoded record: timestamp, ingestion time, message.
pub(crate) type Decoded = (i64, i64, String);

/// The inverse of [`encode_record`], for one line without its newline; `None` for a line that
/// is not a record (a stream's header, garbage).
pub(crate) fn decode_record(line: &str) -> Option<Decoded> {
    let (times, escaped) = line.split_once('\t')?;
    let (ts, ingestion) = match times.split_once(',') {
        Some((ts, ingestion)) => (ts.parse().ok()?, ingestion.parse().ok()?),
        None => {
            let ts = times.parse().ok()?;
            (ts, ts)
        }
    };
    Some((ts, ingestion, unescape_message(escaped)))
}

/// A stream file's first line: `#<creation epoch ms>\t<stream name>` (escaped as messages are),
/// so that a stream created empty has a creation time and a hashed file name its real name.
pub(crate) fn encode_header(creation_ms: i64, stream: &str) -> String {
    let mut line = format!("#{creation_ms}\t");
    escape_message(&mut line, stream);
    line.push('\n');
    line
}

/// The inverse of [`encode_header`].
pub(crate) fn decode_header(line: &str) -> Option<(i64, String)> {
    let (created, escaped) = line.strip_prefix('#')?.split_once('\t')?;
    Some((created.parse().ok()?, unescape_message(escaped)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_reversibly() {
        for name in [
            "/aws/lambda/hello",
            "2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
            ".hidden",
            "a.b",
            "~tilde",
            "ünïcode",
        ] {
            let file = stream_file(name);
            assert!(!file.contains('/'), "{file}");
            assert!(!file.starts_with('.'), "{file}");
            assert_eq!(stream_of_file(&file).as_deref(), Some(name));
        }
        assert_eq!(group_dir("/aws/lambda/f"), "%2Faws%2Flambda%2Ff");
    }

    #[test]
    fn long_names_are_hashed() {
        let long = "x/".repeat(200);
        let dir = group_dir(&long);
        assert!(dir.starts_with('~') && dir.len() < 64);
        assert_ne!(group_dir(&long), group_dir(&"y/".repeat(200)));
        assert_eq!(stream_of_file(&stream_file(&long)), Some(dir));
    }

    #[test]
    fn records_round_trip() {
        for msg in [
            "plain",
            "tab\tinside",
            "multi\nline\r\n",
            "back\\slash\\n",
            "",
        ] {
            let line = encode_record(1_700_000_000_123, 1_700_000_000_200, msg);
            assert_eq!(line.matches('\n').count(), 1);
            let decoded = decode_record(line.trim_end_matches('\n')).unwrap();
            assert_eq!(
                decoded,
                (1_700_000_000_123, 1_700_000_000_200, msg.to_string())
            );
        }
        assert_eq!(decode_record("garbage"), None);
        // An earlier release's line: ingested when it happened.
        assert_eq!(decode_record("5\thi"), Some((5, 5, "hi".into())));
        let header = encode_header(7, "a\nb");
        assert_eq!(decode_record(header.trim_end()), None);
        assert_eq!(decode_header(header.trim_end()), Some((7, "a\nb".into())));
    }
}
