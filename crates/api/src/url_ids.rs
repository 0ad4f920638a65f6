//! The ids function URLs are served at (`<id>.lambda-url.<region>.localhost`).
//!
//! An id is 32 characters of lower-case base32 (`[a-z2-7]`, so within `[a-z0-9]` as on AWS) of
//! an HMAC-SHA256 over the account, the function name and the qualifier. It is therefore the
//! same for that function and qualifier however often its URL is deleted and created again and
//! across restarts, yet cannot be guessed without the key. The key is derived from the node's
//! `url-key` under a label of its own, so it is never the key that signs code download URLs.

use hmac::{KeyInit, Mac};
use ignis_model::Account;
use ignis_model::arn::LATEST;
use ignis_model::url::URL_ID_LEN;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Separates this use of the node's key from every other.
const LABEL: &[u8] = b"ignis function-url id v1";

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Derives URL ids.
#[derive(Clone)]
pub struct UrlIds {
    key: [u8; 32],
}

impl UrlIds {
    /// From the node's `url-key`.
    pub fn new(node_key: &[u8]) -> UrlIds {
        let mut mac = HmacSha256::new_from_slice(node_key).expect("HMAC takes any key length");
        mac.update(LABEL);
        UrlIds {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// The id of the URL of `function`'s `$LATEST` (`None`) or alias.
    pub fn id(&self, account: &Account, function: &str, qualifier: Option<&str>) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Names and qualifiers cannot contain a newline, so the message is unambiguous.
        mac.update(
            format!(
                "{}\n{function}\n{}",
                account.id,
                qualifier.unwrap_or(LATEST)
            )
            .as_bytes(),
        );
        base32(&mac.finalize().into_bytes()[..URL_ID_LEN * 5 / 8])
    }
}

/// Lower-case base32 without padding (the input is a multiple of 5 bytes).
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5);
    let (mut buffer, mut bits) = (0u16, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((buffer >> bits) & 31)]));
        }
        buffer &= (1 << bits) - 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_model::url::is_url_id;

    fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn ids_are_stable_distinct_and_keyed() {
        let ids = UrlIds::new(b"node key");
        let a = account("000000000000");
        let latest = ids.id(&a, "f", None);
        assert!(is_url_id(&latest), "{latest}");
        assert_eq!(latest, UrlIds::new(b"node key").id(&a, "f", None));
        assert_eq!(ids.id(&a, "f", Some(LATEST)), latest);
        let others = [
            ids.id(&a, "f", Some("live")),
            ids.id(&a, "g", None),
            ids.id(&account("111111111111"), "f", None),
            UrlIds::new(b"another key").id(&a, "f", None),
        ];
        for other in others {
            assert!(is_url_id(&other));
            assert_ne!(other, latest);
        }
    }

    #[test]
    fn base32_is_rfc_4648_lower_case() {
        assert_eq!(base32(b"fooba"), "mzxw6ytb");
        assert_eq!(base32(&[0xff; 5]), "77777777");
    }
}
