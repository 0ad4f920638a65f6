//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Why a package was refused, or why the store failed.
///
/// Every variant except [`PackageError::Io`] is the client's fault (Lambda answers these with
/// `InvalidParameterValueException`, or `RequestEntityTooLargeException` for
/// [`PackageError::TooLarge`]), and its `Display` text is meant for the client. Entry names are
/// shown `Debug`-quoted so control characters in hostile names cannot forge the message.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The zip itself is larger than [`Limits::max_zipped_bytes`](crate::Limits).
    #[error("Zipped size must be smaller than {limit} bytes")]
    TooLarge {
        /// Size of the upload.
        size: u64,
        /// The limit it exceeded.
        limit: u64,
    },

    /// Not a zip, or its directory or an entry's data is damaged (bad CRC, bad deflate stream,
    /// sizes that do not match). `reason` is for logs, not for the client.
    #[error("Could not unzip uploaded file. Please check your file, then try to upload again.")]
    Corrupt {
        /// What exactly was wrong.
        reason: String,
    },

    /// The archive lists more entries than [`Limits::max_entries`](crate::Limits).
    #[error("Zip file contains {count} entries; the limit is {limit}")]
    TooManyEntries {
        /// Entries the archive declares.
        count: u64,
        /// The limit it exceeded.
        limit: usize,
    },

    /// An entry is encrypted (ZipCrypto, AES or strong encryption).
    #[error("Zip file entry {name:?} is encrypted; encrypted zip files are not supported")]
    Encrypted {
        /// The entry's name as stored in the archive.
        name: String,
    },

    /// An entry uses a compression method other than stored or deflate, or is a special file
    /// (device, FIFO, socket), or is a link whose target is unreasonably long.
    #[error("Zip file entry {name:?} is not supported: {reason}")]
    Unsupported {
        /// The entry's name as stored in the archive.
        name: String,
        /// What is not supported.
        reason: String,
    },

    /// An entry's name is absolute, contains `..`, a backslash or NUL, is empty or too long, or
    /// would be created inside a symbolic link or under a non-directory.
    #[error("Zip file entry {name:?} has an unsafe path")]
    UnsafePath {
        /// The entry's name as stored in the archive.
        name: String,
    },

    /// A symbolic link is absolute or resolves outside the package.
    #[error(
        "Zip file entry {name:?} is a symbolic link to {target:?}, which is outside the package"
    )]
    UnsafeSymlink {
        /// The link's name as stored in the archive.
        name: String,
        /// The link's target (lossily decoded if it was not UTF-8).
        target: String,
    },

    /// Two entries name the same path (after `.` and repeated `/` are dropped), or a file and a
    /// directory collide.
    #[error("Zip file contains the entry {name:?} more than once")]
    DuplicateEntry {
        /// The entry's name as stored in the archive.
        name: String,
    },

    /// The contents, declared or really inflated, exceed
    /// [`Limits::max_unzipped_bytes`](crate::Limits).
    #[error("Unzipped size must be smaller than {limit} bytes")]
    UnzippedTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },

    /// The store's own disk failed; not the client's fault.
    #[error("failed to {op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl PackageError {
    /// True when the upload was at fault (every variant except [`PackageError::Io`]).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, PackageError::Io { .. })
    }

    pub(crate) fn corrupt(reason: impl std::fmt::Display) -> PackageError {
        PackageError::Corrupt {
            reason: reason.to_string(),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| PackageError::Io { op, path, source }
    }
}
