//! The digests SQS answers a send and a receive with, which the SDKs check: the body's MD5,
//! and the MD5 of the message (or system) attributes as AWS's developer guide specifies it —
//! for each attribute in ascending name order, its name, data type and value, each as a 4-byte
//! big-endian length and its UTF-8 bytes, a transport byte (1 string, 2 binary) before the value.

use crate::state::AttributeValue;
use md5::{Digest, Md5};
use std::collections::BTreeMap;

pub fn of_body(body: &str) -> String {
    hex::encode(Md5::digest(body.as_bytes()))
}

/// `None` when there are no attributes (SQS then returns no digest).
pub fn of_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut md5 = Md5::new();
    for (name, value) in attributes {
        field(&mut md5, name.as_bytes());
        field(&mut md5, value.data_type.as_bytes());
        match (&value.binary, &value.string) {
            (Some(b), _) => {
                md5.update([2u8]);
                field(&mut md5, b);
            }
            (None, s) => {
                md5.update([1u8]);
                field(&mut md5, s.as_deref().unwrap_or_default().as_bytes());
            }
        }
    }
    Some(hex::encode(md5.finalize()))
}

/// A 4-byte big-endian length, then the bytes.
fn field(md5: &mut Md5, bytes: &[u8]) {
    md5.update((bytes.len() as u32).to_be_bytes());
    md5.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_digest_is_plain_md5() {
        assert_eq!(of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_digests_follow_the_documented_encoding() {
        let mut a = BTreeMap::new();
        a.insert(
            "b".to_string(),
            AttributeValue {
                data_type: "Binary".into(),
                string: None,
                binary: Some(vec![0, 1, 2]),
            },
        );
        a.insert(
            "a".to_string(),
            AttributeValue {
                data_type: "String".into(),
                string: Some("x".into()),
                binary: None,
            },
        );
        // The same bytes, laid out by hand.
        let mut expected = Vec::new();
        for part in [&b"a"[..], b"String"] {
            expected.extend((part.len() as u32).to_be_bytes());
            expected.extend(part);
        }
        expected.push(1);
        expected.extend(1u32.to_be_bytes());
        expected.push(b'x');
        for part in [&b"b"[..], b"Binary"] {
            expected.extend((part.len() as u32).to_be_bytes());
            expected.extend(part);
        }
        expected.push(2);
        expected.extend(3u32.to_be_bytes());
        expected.extend([0, 1, 2]);
        assert_eq!(
            of_attributes(&a).unwrap(),
            hex::encode(Md5::digest(&expected))
        );
        assert_eq!(of_attributes(&BTreeMap::new()), None);
    }
}
