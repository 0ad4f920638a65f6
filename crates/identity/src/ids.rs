//! Identifiers and secrets shaped as AWS's: unique ids (`AIDA…` users, `AGPA…` groups, `AROA…`
//! roles, `ANPA…` policies: the prefix and 17 characters), access key ids (`AKIA…` long-term,
//! `ASIA…` temporary: the prefix and 16), 40-character secrets and session tokens.

use rand::Rng;

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A unique id with its prefix: `AIDA`, `AGPA`, `AROA` or `ANPA`.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(BASE32, 17))
}

/// A long-term (`AKIA`) or temporary (`ASIA`) access key id.
pub fn access_key_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(BASE32, 16))
}

/// A secret access key.
pub fn secret() -> String {
    random_from(SECRET, 40)
}

/// A session token (AWS's are opaque base64 of a few hundred characters).
pub fn session_token() -> String {
    format!("IQoJb3JpZ2luX2Vj{}", random_from(SECRET, 340))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let id = super::unique_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        assert_eq!(super::access_key_id("AKIA").len(), 20);
        assert_eq!(super::secret().len(), 40);
        assert_ne!(super::session_token(), super::session_token());
    }
}
