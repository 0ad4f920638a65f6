//! Size and count limits applied to uploaded packages.

/// Limits checked by [`CodeStore::put`](crate::CodeStore::put).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted zip, in bytes (the upload itself).
    pub max_zipped_bytes: u64,
    /// Largest accepted total of the extracted contents (file data plus symbolic-link targets),
    /// checked against both the sizes the archive declares and the bytes really inflated.
    pub max_unzipped_bytes: u64,
    /// Most entries (files, directories and links) one archive may list.
    pub max_entries: usize,
}

impl Limits {
    /// Lambda's limits for a direct zip upload: 50 MB zipped and 262,144,000 bytes (250 MB)
    /// unzipped.
    ///
    /// Lambda documents no entry-count limit. We use 65,535, the most entries a classic
    /// (non-ZIP64) archive can declare: large `node_modules` or scientific-Python packages stay
    /// well below it, while it bounds the memory the central directory takes to parse and the
    /// number of inodes one upload can create.
    pub const LAMBDA: Limits = Limits {
        max_zipped_bytes: 52_428_800,
        max_unzipped_bytes: 262_144_000,
        max_entries: 65_535,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::LAMBDA
    }
}
