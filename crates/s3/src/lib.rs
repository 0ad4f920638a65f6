//! Ignis's S3-compatible object storage: the S3 REST-XML API (through `s3s`), objects on disk
//! with their metadata in the store, and bucket notifications that become asynchronous
//! invocations.

pub mod blobs;
