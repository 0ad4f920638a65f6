//! Object content on disk.
