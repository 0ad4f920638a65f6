//! Function deployment packages (zip files) on local disk.
//!
//! This crate owns everything between "the client uploaded these bytes" and "here is a read-only
//! directory to mount at `/var/task`":
//!
//! - **Validation** against Lambda's limits ([`Limits::LAMBDA`]) and against hostile archives:
//!   zip slip (`../x`, `/abs`, backslashes, NUL), symbolic links that leave the package, files
//!   written through links, duplicate names, encrypted entries, unsupported compression, zip bombs
//!   (both the declared sizes and the bytes really produced are capped).
//! - **Hashing**: the [`Digest`] (SHA-256) names a package; [`Digest::base64`] is Lambda's
//!   `CodeSha256`.
//! - **Storage** in a content-addressed [`CodeStore`]: `blobs/<hex>.zip` keeps the uploaded bytes
//!   and `trees/<hex>/` the extracted, read-only code root. Everything is written under `tmp/`
//!   first and renamed into place, so a package is either fully present or absent, repeated and
//!   concurrent uploads of the same bytes are cheap and safe, and a failed upload leaves nothing.
//! - **Layers**: [`CodeStore::merged_layers`] builds, once per ordered list of layer packages,
//!   the read-only directory a function sees at `/opt` (`opt/<key>/`, hard links into the
//!   stored trees, later layers winning).
//!
//! The API is blocking; async callers should use `spawn_blocking`. Each [`PackageError`] variant
//! except [`PackageError::Io`] is the client's fault and carries a message fit to show them.

mod digest;
mod error;
mod extract;
mod fsutil;
mod inspect;
mod lease;
mod limits;
mod merge;
mod store;

pub use digest::Digest;
pub use error::PackageError;
pub use lease::CodeLease;
pub use limits::Limits;
pub use store::{CodeStore, StoredPackage, merged_key};
