//! Helpers for the store tests: a hand-rolled zip writer that can produce the archives a real
//! writer refuses to (hostile names, lying sizes, encryption flags, special modes), and checks
//! that a store directory holds nothing unexpected.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;

use flate2::Compression;
use flate2::write::DeflateEncoder;

pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATED: u16 = 8;

/// One entry, written exactly as described.
#[derive(Clone, Debug)]
pub struct RawEntry {
    pub name: Vec<u8>,
    /// Bytes as stored (already compressed for deflate).
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub crc32: u32,
    pub uncompressed_size: u32,
    /// `None`: external attributes 0 and "made by" MS-DOS, i.e. no Unix mode at all.
    pub unix_mode: Option<u32>,
    /// Streamed style (flag bit 3): zeros in the local header, a data descriptor after the data.
    pub descriptor: bool,
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

impl RawEntry {
    /// A stored regular file with mode 0644.
    pub fn file(name: &str, contents: &[u8]) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: contents.to_vec(),
            method: METHOD_STORED,
            flags: 0,
            crc32: crc32(contents),
            uncompressed_size: contents.len() as u32,
            unix_mode: Some(0o100_644),
            descriptor: false,
        }
    }

    /// A deflated regular file with mode 0644.
    pub fn deflated(name: &str, contents: &[u8]) -> RawEntry {
        RawEntry {
            data: deflate(contents),
            method: METHOD_DEFLATED,
            ..RawEntry::file(name, contents)
        }
    }

    /// A directory entry (`name` should end with `/`), mode 0755.
    pub fn dir(name: &str) -> RawEntry {
        RawEntry {
            unix_mode: Some(0o040_755),
            ..RawEntry::file(name, b"")
        }
    }

    /// A symbolic link (mode 0o120777) whose data is the target.
    pub fn symlink(name: &str, target: &str) -> RawEntry {
        RawEntry {
            unix_mode: Some(0o120_777),
            ..RawEntry::file(name, target.as_bytes())
        }
    }

    pub fn raw_name(mut self, name: &[u8]) -> RawEntry {
        self.name = name.to_vec();
        self
    }

    pub fn mode(mut self, mode: Option<u32>) -> RawEntry {
        self.unix_mode = mode;
        self
    }

    pub fn flags(mut self, flags: u16) -> RawEntry {
        self.flags = flags;
        self
    }

    pub fn method(mut self, method: u16) -> RawEntry {
        self.method = method;
        self
    }

    pub fn declared_size(mut self, size: u32) -> RawEntry {
        self.uncompressed_size = size;
        self
    }

    pub fn streamed(mut self) -> RawEntry {
        self.descriptor = true;
        self.flags |= 0x0008;
        self
    }

    pub fn crc(mut self, crc: u32) -> RawEntry {
        self.crc32 = crc;
        self
    }
}

/// Lays the entries out as a classic (non-ZIP64) archive.
pub fn build_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let (made_by, external) = match e.unix_mode {
            Some(mode) => ((3u16 << 8) | 20, mode << 16),
            None => (20u16, 0),
        };
        // Local file header.
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&e.flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        let local = [e.crc32, e.data.len() as u32, e.uncompressed_size];
        for value in if e.descriptor { [0; 3] } else { local } {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
        if e.descriptor {
            out.extend_from_slice(b"PK\x07\x08");
            for value in local {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        // Central directory header.
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&made_by.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&e.flags.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&e.crc32.to_le_bytes());
        central.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&e.uncompressed_size.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra length
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&external.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out
}

/// The names directly inside `dir`.
pub fn list(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// The names in `blobs/`, `trees/` and `tmp/` of a store root.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub blobs: BTreeSet<String>,
    pub trees: BTreeSet<String>,
    pub tmp: BTreeSet<String>,
}

pub fn snapshot(root: &Path) -> Snapshot {
    Snapshot {
        blobs: list(&root.join("blobs")),
        trees: list(&root.join("trees")),
        tmp: list(&root.join("tmp")),
    }
}

/// Every path below `dir` (relative, sorted), with `/` after directories and ` -> target` after
/// links.
pub fn walk(dir: &Path) -> Vec<String> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let ty = entry.file_type().unwrap();
            if ty.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push(format!("{rel} -> {}", target.display()));
            } else if ty.is_dir() {
                out.push(format!("{rel}/"));
                go(base, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}
