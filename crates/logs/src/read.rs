//! Reading records back from the files (blocking; [`crate::LogStore`] runs these off the reactor).

use crate::groups::{self, GroupMeta};
use crate::names;
use crate::writer::mtime_ms;
use crate::{GroupInfo, LogError, Record, StreamInfo, io_err};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Most bytes one [`read_new`] takes from one stream; the rest waits for the next call.
const MAX_READ_PER_POLL: u64 = 8 << 20;

/// Where a follower has got to in each stream of a group.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    since_ms: Option<i64>,
    /// Bytes of each stream file already consumed, and the newest timestamp seen in it.
    offsets: HashMap<String, (u64, i64)>,
}

impl Cursor {
    /// A cursor at the start of every stream, returning only records at or after `since_ms`.
    pub fn new(since_ms: Option<i64>) -> Cursor {
        Cursor {
            since_ms,
            offsets: HashMap::new(),
        }
    }
}

fn stream_files(
    root: &Path,
    group: &str,
) -> Result<Vec<(String, PathBuf, fs::Metadata)>, LogError> {
    let dir = root.join(names::group_dir(group));
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(&dir))?;
        let Some(file) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(stream) = names::stream_of_file(&file) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else {
            continue; // deleted meanwhile
        };
        out.push((stream, entry.path(), meta));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

pub(crate) fn list_streams(root: &Path, group: &str) -> Result<Vec<StreamInfo>, LogError> {
    let mut out = Vec::new();
    for (name, path, meta) in stream_files(root, group)? {
        let Some(text) = read_file(&path)? else {
            continue;
        };
        let mut info = StreamInfo {
            name,
            size_bytes: meta.len(),
            last_write_ms: mtime_ms(&meta),
            creation_ms: None,
            first_event_ms: None,
            last_event_ms: None,
            last_ingestion_ms: None,
        };
        for line in text.lines() {
            if let Some((ts, ingestion, _)) = names::decode_record(line) {
                info.creation_ms.get_or_insert(ingestion);
                info.first_event_ms = Some(info.first_event_ms.map_or(ts, |f| f.min(ts)));
                info.last_event_ms = Some(info.last_event_ms.map_or(ts, |l| l.max(ts)));
                info.last_ingestion_ms = Some(
                    info.last_ingestion_ms
                        .map_or(ingestion, |l| l.max(ingestion)),
                );
            } else if let Some((created, real_name)) = names::decode_header(line) {
                info.creation_ms = Some(created);
                info.name = real_name;
            }
        }
        out.push(info);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Every group, by name, with the bytes its streams hold.
pub(crate) fn list_groups(root: &Path) -> Result<Vec<GroupInfo>, LogError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(root)(e)),
    };
    for entry in entries.filter_map(Result::ok) {
        if let Some(info) = group_in(&entry.path())? {
            out.push(info);
        }
    }
    out.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
    Ok(out)
}

/// One group, or `None` when it does not exist.
pub(crate) fn group(root: &Path, name: &str) -> Result<Option<GroupInfo>, LogError> {
    group_in(&root.join(names::group_dir(name)))
}

fn group_in(dir: &Path) -> Result<Option<GroupInfo>, LogError> {
    let Some(meta): Option<GroupMeta> = groups::read_meta(dir)? else {
        return Ok(None);
    };
    let mut stored_bytes = 0;
    for entry in fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
    {
        let is_stream = entry
            .file_name()
            .to_str()
            .and_then(names::stream_of_file)
            .is_some();
        if is_stream && let Ok(m) = entry.metadata() {
            stored_bytes += m.len();
        }
    }
    Ok(Some(GroupInfo { meta, stored_bytes }))
}

fn parse_lines(stream: &str, text: &str, since_ms: Option<i64>, out: &mut Vec<Record>) {
    for line in text.lines() {
        let Some((timestamp_ms, ingestion_ms, message)) = names::decode_record(line) else {
            continue;
        };
        if since_ms.is_some_and(|s| timestamp_ms < s) {
            continue;
        }
        out.push(Record {
            stream: stream.to_string(),
            timestamp_ms,
            ingestion_ms,
            message,
        });
    }
}

fn read_file(path: &Path) -> Result<Option<String>, LogError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Every record of one stream in the file's order, or `None` when the stream does not exist.
pub(crate) fn read_stream(
    root: &Path,
    group: &str,
    stream: &str,
) -> Result<Option<Vec<Record>>, LogError> {
    let path = root
        .join(names::group_dir(group))
        .join(names::stream_file(stream));
    Ok(read_file(&path)?.map(|text| {
        let mut out = Vec::new();
        parse_lines(stream, &text, None, &mut out);
        out
    }))
}

pub(crate) fn read(
    root: &Path,
    group: &str,
    stream: Option<&str>,
    since_ms: Option<i64>,
) -> Result<Vec<Record>, LogError> {
    let mut out = Vec::new();
    match stream {
        Some(stream) => {
            let path = root
                .join(names::group_dir(group))
                .join(names::stream_file(stream));
            if let Some(text) = read_file(&path)? {
                parse_lines(stream, &text, since_ms, &mut out);
            }
        }
        None => {
            for (name, path, _) in stream_files(root, group)? {
                if let Some(text) = read_file(&path)? {
                    parse_lines(&name, &text, since_ms, &mut out);
                }
            }
            out.sort_by_key(|r| r.timestamp_ms);
        }
    }
    Ok(out)
}

pub(crate) fn read_new(
    root: &Path,
    group: &str,
    cursor: &mut Cursor,
) -> Result<Vec<Record>, LogError> {
    let mut out = Vec::new();
    let files = stream_files(root, group)?;
    cursor
        .offsets
        .retain(|name, _| files.iter().any(|(n, _, _)| n == name));
    for (name, path, meta) in files {
        let (mut offset, newest) = cursor.offsets.get(&name).copied().unwrap_or((0, i64::MIN));
        let len = meta.len();
        // A file shorter than what was consumed has been cut by the budget: start again, skipping
        // what was already returned.
        let since = if len < offset {
            offset = 0;
            Some(
                newest
                    .saturating_add(1)
                    .max(cursor.since_ms.unwrap_or(i64::MIN)),
            )
        } else {
            cursor.since_ms
        };
        if len == offset {
            continue;
        }
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&path)(e)),
        };
        f.seek(SeekFrom::Start(offset)).map_err(io_err(&path))?;
        let mut buf = Vec::new();
        f.take((len - offset).min(MAX_READ_PER_POLL))
            .read_to_end(&mut buf)
            .map_err(io_err(&path))?;
        // Only whole lines; a line still being written waits for the next call.
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..=end]);
        let before = out.len();
        parse_lines(&name, &text, since, &mut out);
        let newest = out[before..]
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap_or(newest)
            .max(newest);
        cursor
            .offsets
            .insert(name, (offset + end as u64 + 1, newest));
    }
    out.sort_by_key(|r| r.timestamp_ms);
    Ok(out)
}
