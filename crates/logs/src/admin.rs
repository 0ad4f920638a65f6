//! Changes made through the CloudWatch Logs API, applied by the writer thread (the only code that
//! writes or deletes log files): groups and streams created and deleted, metadata changed, batches
//! of events put, and retention enforced.

use crate::groups::{self, GroupChange, GroupMeta};
use crate::writer::{Writer, now_ms};
use crate::{LogError, io_err, names};
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

pub(crate) enum Admin {
    CreateGroup(GroupMeta),
    DeleteGroup(String),
    ChangeGroup(String, GroupChange),
    CreateStream {
        group: String,
        stream: String,
    },
    DeleteStream {
        group: String,
        stream: String,
    },
    /// Events (timestamp, message) for an existing stream, ingested now.
    Put {
        group: String,
        stream: String,
        events: Vec<(i64, String)>,
    },
    /// Deletes every event older than its group's retention; answers the bytes freed.
    Sweep,
}

fn io(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    io_err(path)
}

impl Writer {
    pub(crate) fn admin(&mut self, admin: Admin) -> Result<u64, LogError> {
        match admin {
            Admin::CreateGroup(meta) => {
                let dir = self.root.join(names::group_dir(&meta.name));
                if dir.exists() {
                    return Err(LogError::GroupExists);
                }
                if self.count_groups()? >= self.max_groups {
                    return Err(LogError::TooManyGroups(self.max_groups));
                }
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                groups::write_meta(&dir, &meta).map_err(io(&dir))?;
                Ok(0)
            }
            Admin::DeleteGroup(name) => {
                let dir = self.existing_group(&name)?;
                self.forget(&dir);
                self.groups.remove(&name);
                fs::remove_dir_all(&dir).map_err(io(&dir))?;
                Ok(0)
            }
            Admin::ChangeGroup(name, change) => {
                let dir = self.existing_group(&name)?;
                let mut meta = groups::read_meta(&dir)?.ok_or(LogError::NoGroup)?;
                change.apply(&mut meta);
                groups::write_meta(&dir, &meta).map_err(io(&dir))?;
                Ok(0)
            }
            Admin::CreateStream { group, stream } => {
                let dir = self.existing_group(&group)?;
                let path = dir.join(names::stream_file(&stream));
                if path.exists() {
                    return Err(LogError::StreamExists);
                }
                self.create_stream_file(&group, &stream)
                    .map_err(io(&path))?;
                Ok(0)
            }
            Admin::DeleteStream { group, stream } => {
                let dir = self.existing_group(&group)?;
                let file = names::stream_file(&stream);
                let path = dir.join(&file);
                self.open.remove(&path);
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(LogError::NoStream);
                    }
                    Err(e) => return Err(io(&path)(e)),
                }
                if let Some(state) = self.groups.get_mut(&group)
                    && let Some(s) = state.streams.remove(&file)
                {
                    state.total -= s.size.min(state.total);
                }
                Ok(0)
            }
            Admin::Put {
                group,
                stream,
                events,
            } => {
                let dir = self.existing_group(&group)?;
                let path = dir.join(names::stream_file(&stream));
                if !path.exists() {
                    return Err(LogError::NoStream);
                }
                let now = now_ms() as i64;
                for (ts, message) in events {
                    self.append(&group, &stream, ts, now, &message)
                        .map_err(io(&path))?;
                }
                // Accepted means in the file: a read right after sees it.
                self.flush_all();
                Ok(0)
            }
            Admin::Sweep => self.sweep(),
        }
    }

    fn existing_group(&self, name: &str) -> Result<std::path::PathBuf, LogError> {
        let dir = self.root.join(names::group_dir(name));
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(LogError::NoGroup)
        }
    }

    fn count_groups(&self) -> Result<usize, LogError> {
        let entries = fs::read_dir(&self.root).map_err(io(&self.root))?;
        Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count())
    }

    /// Closes the open files under `dir` (after writing what they hold).
    fn forget(&mut self, dir: &Path) {
        self.flush_all();
        self.open.retain(|path, _| !path.starts_with(dir));
    }

    fn sweep(&mut self) -> Result<u64, LogError> {
        let now = now_ms() as i64;
        let mut freed = 0;
        let entries = fs::read_dir(&self.root).map_err(io(&self.root))?;
        for entry in entries.filter_map(Result::ok) {
            let dir = entry.path();
            let Some(meta) = groups::read_meta(&dir)? else {
                continue;
            };
            let Some(days) = meta.retention_days else {
                continue;
            };
            let cutoff = now - i64::from(days) * DAY_MS;
            self.forget(&dir);
            let mut changed = false;
            for file in fs::read_dir(&dir).map_err(io(&dir))?.filter_map(Result::ok) {
                let path = file.path();
                let is_stream = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(names::stream_of_file)
                    .is_some();
                if is_stream {
                    let n = expire(&path, cutoff).map_err(io(&path))?;
                    changed |= n > 0;
                    freed += n;
                }
            }
            if changed {
                // Sizes are counted again from the files at the next write.
                self.groups.remove(&meta.name);
            }
        }
        Ok(freed)
    }
}

/// Rewrites a stream file without its records older than `cutoff`; answers the bytes freed.
fn expire(path: &Path, cutoff: i64) -> io::Result<u64> {
    let before = fs::metadata(path)?.len();
    let mut expired = false;
    for line in BufReader::new(fs::File::open(path)?).lines() {
        if names::decode_record(&line?).is_some_and(|(ts, _, _)| ts < cutoff) {
            expired = true;
            break;
        }
    }
    if !expired {
        return Ok(0);
    }
    let tmp = path.with_extension("expire");
    let mut out = io::BufWriter::new(fs::File::create(&tmp)?);
    for line in BufReader::new(fs::File::open(path)?).lines() {
        let line = line?;
        if names::decode_record(&line).is_some_and(|(ts, _, _)| ts < cutoff) {
            continue;
        }
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(before.saturating_sub(fs::metadata(path)?.len()))
}

#[cfg(test)]
mod tests {
    use crate::{GroupChange, GroupMeta, LogError, LogStore};

    const DAY: i64 = super::DAY_MS;

    #[tokio::test]
    async fn groups_and_streams_are_made_put_to_listed_and_expired() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), 64 << 20).unwrap();
        let now = super::now_ms() as i64;
        store
            .create_group(GroupMeta::new("/app/x", 5))
            .await
            .unwrap();
        assert!(matches!(
            store.create_group(GroupMeta::new("/app/x", 6)).await,
            Err(LogError::GroupExists)
        ));
        assert!(matches!(
            store.put("/app/x", "s", vec![(1, "a".into())]).await,
            Err(LogError::NoStream)
        ));
        store.create_stream("/app/x", "s").await.unwrap();
        let streams = store.list_streams("/app/x").await.unwrap();
        assert_eq!(streams[0].name, "s");
        assert!(streams[0].creation_ms.is_some() && streams[0].first_event_ms.is_none());
        store
            .put(
                "/app/x",
                "s",
                vec![(now - 3 * DAY, "old".into()), (now, "new".into())],
            )
            .await
            .unwrap();
        let before = store.group("/app/x").await.unwrap().unwrap();
        assert_eq!(before.meta.creation_ms, 5);
        let records = store.read("/app/x", Some("s"), None).await.unwrap();
        assert_eq!(records.len(), 2);
        assert!(records[1].ingestion_ms >= now);
        // No retention: nothing expires.
        assert_eq!(store.sweep().await.unwrap(), 0);
        store
            .change_group("/app/x", GroupChange::Retention(Some(1)))
            .await
            .unwrap();
        assert!(store.sweep().await.unwrap() > 0);
        let after = store.group("/app/x").await.unwrap().unwrap();
        assert_eq!(after.meta.retention_days, Some(1));
        assert!(after.stored_bytes < before.stored_bytes);
        let records = store.read("/app/x", Some("s"), None).await.unwrap();
        assert_eq!(
            records.iter().map(|r| &r.message[..]).collect::<Vec<_>>(),
            ["new"]
        );
        // The stream keeps its name and creation time.
        assert_eq!(store.list_streams("/app/x").await.unwrap()[0].name, "s");
        store.delete_stream("/app/x", "s").await.unwrap();
        assert!(matches!(
            store.delete_stream("/app/x", "s").await,
            Err(LogError::NoStream)
        ));
        store.delete_group("/app/x").await.unwrap();
        assert!(store.group("/app/x").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_functions_group_is_listed_with_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), 64 << 20).unwrap();
        store.append("/aws/lambda/f", "2024/01/01/[$LATEST]ab", 7, "hi");
        store.flush().await;
        let groups = store.groups().await.unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].meta.name, "/aws/lambda/f");
        let streams = store.list_streams("/aws/lambda/f").await.unwrap();
        assert_eq!(streams[0].first_event_ms, Some(7));
        assert!(streams[0].last_ingestion_ms.unwrap() > 7);
    }

    #[tokio::test]
    async fn the_number_of_groups_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open_with_max_groups(dir.path(), 1 << 20, 2).unwrap();
        for g in ["a", "b"] {
            store.create_group(GroupMeta::new(g, 1)).await.unwrap();
        }
        assert!(matches!(
            store.create_group(GroupMeta::new("c", 1)).await,
            Err(LogError::TooManyGroups(2))
        ));
    }
}
