//! Keeping personal identity codes where they belong.
//!
//! Supervision traffic identifies a client only by a keyed pseudonym: HMAC-SHA256 of the full
//! henkilötunnus under a key the TE office and the trial areas share and AVI's deployment does not
//! hold, so AVI can link facts about one client without being able to recover who it is.
//! [`contains_identity_code`] finds anything shaped like a henkilötunnus in free text or data,
//! for validation and for the tests that scan what reaches AVI.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Computes client pseudonyms under one key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(key hidden)")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer under `key` (at least 16 bytes).
    pub fn new(key: &[u8]) -> Result<Self, &'static str> {
        if key.len() < 16 {
            return Err("the pseudonym key must be at least 16 bytes");
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| "unusable pseudonym key")?;
        Ok(Self { mac })
    }

    /// The client's pseudonym: 64 hex characters.
    pub fn pseudonym(&self, henkilotunnus: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(henkilotunnus.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Whether `bytes` contain something shaped like a henkilötunnus (DDMMYY, a century sign, three
/// digits and a check character), valid or not, standing as its own token: not preceded by a
/// letter, digit, `+` or `-`, nor followed by a letter or digit. (Inside longer hex tokens such as
/// UUIDs and pseudonyms such runs occur by chance and are not identity codes.)
pub fn contains_identity_code(bytes: &[u8]) -> bool {
    let joins = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'-';
    bytes.windows(11).enumerate().any(|(i, w)| {
        let shaped = w[..6].iter().all(u8::is_ascii_digit)
            && b"+-YXWVUABCDEFyxwvuabcdef".contains(&w[6])
            && w[7..10].iter().all(u8::is_ascii_digit)
            && w[10].is_ascii_alphanumeric();
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + 11).copied();
        shaped && !before.is_some_and(joins) && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_hide_the_code() {
        let a = Pseudonymizer::new(b"0123456789abcdef-area-key").unwrap();
        let b = Pseudonymizer::new(b"another key of enough length").unwrap();
        let p = a.pseudonym("131052-308T");
        assert_eq!(p.len(), 64);
        assert_eq!(p, a.pseudonym("131052-308t"));
        assert_ne!(p, a.pseudonym("131052Y308T"));
        assert_ne!(p, b.pseudonym("131052-308T"));
        assert!(!contains_identity_code(p.as_bytes()));
        assert!(Pseudonymizer::new(b"short").is_err());
    }

    #[test]
    fn identity_code_shapes_are_found() {
        assert!(contains_identity_code(
            b"asiakas 131052-308T ei asu alueella"
        ));
        assert!(contains_identity_code(b"010101A123B"));
        assert!(!contains_identity_code(b"puh. 040-1234567"));
        assert!(!contains_identity_code(b"2024-09-02T06:00:00Z"));
        assert!(contains_identity_code(b"\"131052-308T\""));
        // Runs inside UUIDs and hex pseudonyms are not codes.
        assert!(!contains_identity_code(
            b"01a20d06-fc64-7349-b27e-123456a789bc"
        ));
        assert!(!contains_identity_code(b"ff123456a789bcff"));
    }
}
