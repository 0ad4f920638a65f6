//! A group's metadata: its name, creation time, retention and tags, kept as `group.json` in the
//! group's directory (written whole to a temporary file, synced and renamed, so a reader or a
//! crash sees the old file or the new one). A directory without one (written by an earlier
//! release) is described from its name and modification time.

use crate::names;
use crate::writer::mtime_ms;
use crate::{LogError, io_err};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// What a group is, beside its streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMeta {
    pub name: String,
    /// Epoch milliseconds.
    pub creation_ms: i64,
    /// Events older than this many days are deleted (by their timestamps); `None` keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl GroupMeta {
    pub fn new(name: &str, creation_ms: i64) -> GroupMeta {
        GroupMeta {
            name: name.to_string(),
            creation_ms,
            retention_days: None,
            tags: BTreeMap::new(),
        }
    }
}

/// A change to a group's metadata.
#[derive(Debug, Clone)]
pub enum GroupChange {
    Retention(Option<u32>),
    Tag(BTreeMap<String, String>),
    Untag(Vec<String>),
}

impl GroupChange {
    pub(crate) fn apply(self, meta: &mut GroupMeta) {
        match self {
            GroupChange::Retention(days) => meta.retention_days = days,
            GroupChange::Tag(tags) => meta.tags.extend(tags),
            GroupChange::Untag(keys) => {
                for k in keys {
                    meta.tags.remove(&k);
                }
            }
        }
    }
}

/// The metadata of the group in `dir`, or `None` when `dir` is no group's.
pub(crate) fn read_meta(dir: &Path) -> Result<Option<GroupMeta>, LogError> {
    let path = dir.join(names::GROUP_META);
    match fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(meta) => Ok(Some(meta)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable log group metadata");
                Ok(None)
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let Ok(dir_meta) = fs::metadata(dir) else {
                return Ok(None);
            };
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(names::group_of_dir);
            Ok(name
                .filter(|_| dir_meta.is_dir())
                .map(|name| GroupMeta::new(&name, mtime_ms(&dir_meta) as i64)))
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Replaces the metadata of the group in `dir`, durably.
pub(crate) fn write_meta(dir: &Path, meta: &GroupMeta) -> io::Result<()> {
    let path = dir.join(names::GROUP_META);
    let tmp = dir.join(".group.json.tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(meta).map_err(io::Error::other)?)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    fs::File::open(dir)?.sync_all()
}
