//! The SHA-256 digest that names a package.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// SHA-256 of a package's zip bytes.
///
/// The store names files by [`Digest::hex`]; Lambda's `CodeSha256` field is [`Digest::base64`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, 64 characters; the name used on disk.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard base64 with padding, 44 characters: Lambda's `CodeSha256`.
    pub fn base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses 64 hex digits (either case); anything else is `None`.
    pub fn from_hex(s: &str) -> Option<Digest> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn empty_input_matches_known_sha256() {
        let d = Digest::of(b"");
        assert_eq!(d.hex(), EMPTY_HEX);
        assert_eq!(d.base64(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(d.to_string(), EMPTY_HEX);
    }

    #[test]
    fn from_hex_round_trips_and_rejects_junk() {
        let d = Digest::of(b"hello");
        assert_eq!(Digest::from_hex(&d.hex()), Some(d));
        assert_eq!(Digest::from_hex(&d.hex().to_uppercase()), Some(d));
        assert_eq!(Digest::from_hex(""), None);
        assert_eq!(Digest::from_hex(&EMPTY_HEX[..62]), None);
        assert_eq!(Digest::from_hex(&format!("{EMPTY_HEX}00")), None);
        assert_eq!(Digest::from_hex(&EMPTY_HEX.replace('e', "g")), None);
        assert_eq!(Digest::from_hex("../../../../etc/passwd"), None);
    }
}
