//! Checks an archive's central directory, without inflating anything, and plans the extraction.

use std::collections::HashSet;
use std::io::Cursor;

use zip::{CompressionMethod, ZipArchive};

use crate::{Limits, PackageError};

/// Longest entry name accepted, in bytes. Keeps `<store root>/trees/<hex>/<name>` well inside
/// Linux's `PATH_MAX` (4096) and bounds the directory depth an archive can request.
pub(crate) const MAX_NAME_BYTES: usize = 1024;
/// Longest single path component (Linux's `NAME_MAX`).
const MAX_COMPONENT_BYTES: usize = 255;
/// Longest symbolic-link target accepted, in bytes (below `PATH_MAX`).
pub(crate) const MAX_LINK_TARGET_BYTES: u64 = 4095;

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// The archive opened over the upload's bytes.
pub(crate) type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// How an entry's data is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
}

/// What an entry becomes on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File { executable: bool },
    Symlink,
}

/// One checked entry.
#[derive(Debug)]
pub(crate) struct PlannedEntry {
    /// Index in the archive.
    pub index: usize,
    /// Name as stored, for error messages.
    pub name: String,
    /// Normalised relative path: non-empty components without `.`, `..` or separators.
    pub path: Vec<String>,
    pub kind: Kind,
    pub method: Method,
    /// Declared uncompressed size.
    pub size: u64,
    /// Declared CRC-32 of the uncompressed data.
    pub crc32: u32,
}

/// Everything needed to extract an archive that passed the metadata checks.
#[derive(Debug)]
pub(crate) struct Plan {
    pub entries: Vec<PlannedEntry>,
    /// Total declared size of files and link targets; extraction checks the real bytes match.
    pub unzipped_size: u64,
}

/// Reads the entry count from the end-of-central-directory record (or its ZIP64 twin) without
/// parsing the directory, so an archive listing millions of entries is refused before `zip`
/// allocates for them. `None` when the record is not where a plain archive has it; the parsed
/// count is checked again afterwards.
pub(crate) fn declared_entry_count(zip: &[u8]) -> Option<u64> {
    const EOCD_SIG: &[u8] = b"PK\x05\x06";
    const EOCD_LEN: usize = 22;
    const LOCATOR_SIG: &[u8] = b"PK\x06\x07";
    const LOCATOR_LEN: usize = 20;
    const ZIP64_EOCD_SIG: &[u8] = b"PK\x06\x06";

    let last = zip.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    let eocd = (first..=last)
        .rev()
        .find(|&p| zip.get(p..p + 4) == Some(EOCD_SIG))?;
    let count16 = u16::from_le_bytes([zip[eocd + 10], zip[eocd + 11]]);
    if count16 != u16::MAX {
        return Some(u64::from(count16));
    }
    let locator = zip.get(eocd.checked_sub(LOCATOR_LEN)?..eocd)?;
    if &locator[..4] != LOCATOR_SIG {
        return None;
    }
    let offset = usize::try_from(u64::from_le_bytes(locator[8..16].try_into().ok()?)).ok()?;
    let record = zip.get(offset..offset.checked_add(40)?)?;
    if &record[..4] != ZIP64_EOCD_SIG {
        return None;
    }
    Some(u64::from_le_bytes(record[32..40].try_into().ok()?))
}

/// Splits an entry name into safe path components, or `None` if it is unsafe.
///
/// Refused rather than rewritten: absolute names, any `..` component (even one that would stay
/// inside, since lexical and on-disk resolution can disagree), backslashes (a Windows separator
/// some extractors honour), NUL, components longer than 255 bytes and names longer than
/// [`MAX_NAME_BYTES`]. Empty and `.` components are dropped. An empty result means the root
/// itself (`./`).
pub(crate) fn safe_components(name: &str) -> Option<Vec<String>> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.starts_with('/')
        || name.contains(['\\', '\0'])
    {
        return None;
    }
    let mut out = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            _ if part.len() > MAX_COMPONENT_BYTES => return None,
            _ => out.push(part.to_owned()),
        }
    }
    Some(out)
}

/// Whether a link at `link_depth` directories below the root, pointing at `target`, stays inside
/// the root when resolved lexically. Extraction later re-checks against the finished tree,
/// following links the archive created.
pub(crate) fn link_target_lexically_inside(link_depth: usize, target: &[u8]) -> bool {
    if target.is_empty() || target.starts_with(b"/") || target.contains(&0) {
        return false;
    }
    let mut depth = link_depth;
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

/// Checks every entry's metadata against `limits` and the safety rules, in archive order.
pub(crate) fn inspect(archive: &Archive<'_>, limits: &Limits) -> Result<Plan, PackageError> {
    let count = archive.len();
    if count > limits.max_entries {
        return Err(PackageError::TooManyEntries {
            count: count as u64,
            limit: limits.max_entries,
        });
    }
    if archive.has_duplicate_names() {
        return Err(PackageError::corrupt(
            "the central directory lists the same name twice",
        ));
    }

    let mut entries = Vec::with_capacity(count);
    let mut seen: HashSet<String> = HashSet::with_capacity(count);
    let mut declared: u64 = 0;
    for index in 0..count {
        let entry = archive
            .by_index_data(index)
            .map_err(PackageError::corrupt)?;
        let name = entry.name().map_err(PackageError::corrupt)?.into_owned();

        let path = safe_components(&name)
            .ok_or_else(|| PackageError::UnsafePath { name: name.clone() })?;
        // Bit 0: encrypted; bit 6: strong encryption; method 99: WinZip AES.
        let flags = entry.flags().as_u16();
        if entry.encrypted() || flags & 0x0041 != 0 || entry.compression() == CompressionMethod::AES
        {
            return Err(PackageError::Encrypted { name });
        }

        let mode = entry.unix_mode().unwrap_or(0);
        let kind = if name.ends_with('/') || mode & S_IFMT == S_IFDIR {
            Kind::Dir
        } else {
            match mode & S_IFMT {
                0 | S_IFREG => Kind::File {
                    executable: mode & 0o111 != 0,
                },
                S_IFLNK => Kind::Symlink,
                other => {
                    return Err(PackageError::Unsupported {
                        name,
                        reason: format!("special file type {other:o}"),
                    });
                }
            }
        };

        if path.is_empty() {
            // `./` names the root itself: harmless as a directory, meaningless as anything else.
            if kind == Kind::Dir {
                continue;
            }
            return Err(PackageError::UnsafePath { name });
        }

        let method = match entry.compression() {
            CompressionMethod::Stored => Method::Stored,
            CompressionMethod::Deflated => Method::Deflated,
            // A directory's data is never read, so its method does not matter.
            _ if kind == Kind::Dir => Method::Stored,
            other => {
                return Err(PackageError::Unsupported {
                    name,
                    reason: format!("compression method {other}"),
                });
            }
        };

        let size = entry.size();
        if kind == Kind::Symlink && size > MAX_LINK_TARGET_BYTES {
            return Err(PackageError::Unsupported {
                name,
                reason: format!("symbolic link target longer than {MAX_LINK_TARGET_BYTES} bytes"),
            });
        }
        if kind != Kind::Dir {
            declared = declared.saturating_add(size);
        }

        if !seen.insert(path.join("/")) {
            return Err(PackageError::DuplicateEntry { name });
        }
        entries.push(PlannedEntry {
            index,
            name,
            path,
            kind,
            method,
            size,
            crc32: entry.crc32(),
        });
    }

    if declared > limits.max_unzipped_bytes {
        return Err(PackageError::UnzippedTooLarge {
            limit: limits.max_unzipped_bytes,
        });
    }
    Ok(Plan {
        entries,
        unzipped_size: declared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The components joined with `|`, so the expectations read easily.
    fn comps(name: &str) -> Option<String> {
        safe_components(name).map(|v| v.join("|"))
    }

    #[test]
    fn ordinary_names_split_into_components() {
        assert_eq!(comps("bootstrap").as_deref(), Some("bootstrap"));
        assert_eq!(comps("lib/x.py").as_deref(), Some("lib|x.py"));
        assert_eq!(comps("lib/").as_deref(), Some("lib"));
        assert_eq!(comps("./a//b/./c").as_deref(), Some("a|b|c"));
        assert_eq!(comps("./").as_deref(), Some(""));
        assert_eq!(comps("C:/x").as_deref(), Some("C:|x"));
        assert_eq!(comps("...").as_deref(), Some("..."));
        assert_eq!(comps("a..b/..c").as_deref(), Some("a..b|..c"));
    }

    #[test]
    fn unsafe_names_are_refused() {
        for name in [
            "",
            "../evil",
            "a/../../x",
            "a/../b",
            "..",
            "a/..",
            "/etc/passwd",
            "//etc/passwd",
            "..\\evil",
            "a\\..\\..\\x",
            "C:\\Windows\\x",
            "a\0b",
        ] {
            assert_eq!(safe_components(name), None, "{name:?}");
        }
        assert_eq!(safe_components(&"a".repeat(256)), None);
        assert!(safe_components(&"a".repeat(255)).is_some());
        assert_eq!(safe_components(&"a/".repeat(MAX_NAME_BYTES / 2 + 1)), None);
    }

    #[test]
    fn link_targets_are_resolved_from_the_link_directory() {
        assert!(link_target_lexically_inside(0, b"lib"));
        assert!(link_target_lexically_inside(0, b"./lib/../x"));
        assert!(link_target_lexically_inside(1, b".."));
        assert!(link_target_lexically_inside(2, b"../../x"));
        assert!(!link_target_lexically_inside(0, b".."));
        assert!(!link_target_lexically_inside(0, b"../../etc"));
        assert!(!link_target_lexically_inside(1, b"../../etc"));
        assert!(!link_target_lexically_inside(2, b"a/../../../../x"));
        assert!(!link_target_lexically_inside(0, b"/etc/passwd"));
        assert!(!link_target_lexically_inside(0, b""));
        assert!(!link_target_lexically_inside(0, b"a\0b"));
    }

    #[test]
    fn eocd_count_is_read_without_parsing() {
        assert_eq!(declared_entry_count(b""), None);
        assert_eq!(
            declared_entry_count(b"not a zip at all, not even close"),
            None
        );
        let mut eocd = b"PK\x05\x06".to_vec();
        eocd.extend_from_slice(&[0, 0, 0, 0, 7, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(declared_entry_count(&eocd), Some(9));
    }
}
