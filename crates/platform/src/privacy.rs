//! Keeping personal identity codes where they belong.
//!
//! Supervision traffic identifies a client only by a keyed pseudonym: HMAC-SHA256 of the full
//! henkilötunnus under a key that only the TE office holds. The TE office computes the pseudonym
//! when it issues a referral and sends it with the referral (`ReferralIssued.client_pseudonym`,
//! with the key's id); the trial areas store it and name the client by it in their facts. Neither
//! the areas nor AVI ever hold the key, so AVI can link facts about one client without being able
//! to recover who it is, and an area cannot compute pseudonyms of people it was not referred.
//!
//! The key is exactly 32 random bytes ([`PseudonymKey`]) and has an id that every fact carries.
//! Rotation: give te-office a new key under a new id; new referrals get pseudonyms under the new
//! key, while existing referrals keep the pseudonym (and key id) they travelled with, so AVI's
//! cases stay linked. The old key is not needed afterwards and can be destroyed.
//!
//! [`contains_identity_code`] finds anything shaped like a henkilötunnus in free text or data,
//! for validation and for the tests that scan what reaches AVI.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of a pseudonym key in bytes.
pub const PSEUDONYM_KEY_LEN: usize = 32;

/// Why a pseudonym key or key id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the pseudonym key must be exactly 32 random bytes, written as 64 hex characters; found {0}"
    )]
    Malformed(String),
    #[error(
        "the pseudonym key id must be 1–64 characters of a-z, A-Z, 0-9, '-', '_' or '.'; found {0:?}"
    )]
    BadId(String),
    #[error("cannot read the pseudonym key file {path}: {error}")]
    Unreadable { path: String, error: String },
}

/// The TE office's pseudonym key: 32 random bytes and the id under which facts name it.
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey {
    id: String,
    bytes: [u8; PSEUDONYM_KEY_LEN],
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PseudonymKey({}, key hidden)", self.id)
    }
}

/// Checks a key id: 1–64 characters of `[A-Za-z0-9._-]`.
pub fn check_key_id(id: &str) -> Result<(), KeyError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadId(id.chars().take(70).collect()))
    }
}

impl PseudonymKey {
    /// A key from exactly 32 bytes.
    pub fn from_bytes(id: &str, bytes: &[u8]) -> Result<Self, KeyError> {
        check_key_id(id)?;
        let bytes: [u8; PSEUDONYM_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::Malformed(format!("{} bytes", bytes.len())))?;
        Ok(Self {
            id: id.to_owned(),
            bytes,
        })
    }

    /// A key from its hex form (64 hex characters; surrounding whitespace is ignored).
    pub fn from_hex(id: &str, text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = hex::decode(text).map_err(|_| {
            KeyError::Malformed(format!("{} characters that are not all hex", text.len()))
        })?;
        Self::from_bytes(id, &bytes)
    }

    /// Reads the key from a file holding its 64 hex characters (a trailing newline is fine).
    pub fn from_file(id: &str, path: &std::path::Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Unreadable {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        Self::from_hex(id, &text)
    }

    /// A new random key (from the operating system's generator).
    pub fn generate(id: &str) -> Result<Self, KeyError> {
        let bytes: [u8; PSEUDONYM_KEY_LEN] = rand::random();
        Self::from_bytes(id, &bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's bytes (to write the key file, and for tests that look for the key).
    pub fn expose_bytes(&self) -> &[u8; PSEUDONYM_KEY_LEN] {
        &self.bytes
    }

    /// The key file's content: 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }
}

/// Computes client pseudonyms under one key (the TE office only).
#[derive(Clone)]
pub struct Pseudonymizer {
    key_id: String,
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonymizer({}, key hidden)", self.key_id)
    }
}

impl Pseudonymizer {
    /// A pseudonymizer under `key`.
    pub fn new(key: &PseudonymKey) -> Self {
        // HMAC takes keys of any length, so this cannot fail for 32 bytes.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key"));
        Self {
            key_id: key.id.clone(),
            mac,
        }
    }

    /// The id of the key, carried with every pseudonym.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The client's pseudonym: 64 hex characters.
    pub fn pseudonym(&self, henkilotunnus: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(henkilotunnus.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Whether `text` has the shape of a pseudonym: 64 lowercase hex characters.
pub fn is_pseudonym(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

    fn key(id: &str, fill: u8) -> PseudonymKey {
        PseudonymKey::from_bytes(id, &[fill; 32]).unwrap()
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_hide_the_code() {
        let a = Pseudonymizer::new(&key("2024-1", 7));
        let b = Pseudonymizer::new(&key("2024-1", 8));
        let p = a.pseudonym("131052-308T");
        assert_eq!(p.len(), 64);
        assert!(is_pseudonym(&p));
        assert_eq!(p, a.pseudonym("131052-308t"));
        assert_ne!(p, a.pseudonym("131052Y308T"));
        assert_ne!(p, b.pseudonym("131052-308T"));
        assert_eq!(a.key_id(), "2024-1");
        assert!(!contains_identity_code(p.as_bytes()));
        assert!(!format!("{a:?} {:?}", key("k", 7)).contains("0707"));
    }

    #[test]
    fn a_key_is_exactly_32_bytes_with_a_usable_id() {
        assert!(matches!(
            PseudonymKey::from_bytes("k", &[1; 16]),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            PseudonymKey::from_bytes("k", &[1; 33]),
            Err(KeyError::Malformed(_))
        ));
        let hex64 = "ab".repeat(32);
        let k = PseudonymKey::from_hex("k", &format!("  {hex64}\n")).unwrap();
        assert_eq!(k.to_hex(), hex64);
        assert_eq!(k.expose_bytes(), &[0xab; 32]);
        assert!(PseudonymKey::from_hex("k", &"ab".repeat(31)).is_err());
        assert!(PseudonymKey::from_hex("k", &"zz".repeat(32)).is_err());
        // A passphrase is not a key.
        assert!(PseudonymKey::from_hex("k", "correct horse battery staple, 32+ chars").is_err());
        for bad in ["", "a b", "ä", "x/y", &"k".repeat(65)] {
            assert!(
                matches!(
                    PseudonymKey::from_bytes(bad, &[1; 32]),
                    Err(KeyError::BadId(_))
                ),
                "{bad:?}"
            );
        }
        let g = PseudonymKey::generate("2025-01").unwrap();
        assert_ne!(g, PseudonymKey::generate("2025-01").unwrap());
        assert_eq!(PseudonymKey::from_hex("2025-01", &g.to_hex()).unwrap(), g);
    }

    #[test]
    fn the_key_file_holds_hex() {
        let dir = std::env::temp_dir().join(format!("kokeilu-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pseudonym.key");
        std::fs::write(&path, format!("{}\n", "0f".repeat(32))).unwrap();
        assert_eq!(
            PseudonymKey::from_file("1", &path).unwrap().expose_bytes(),
            &[0x0f; 32]
        );
        std::fs::write(&path, [0x0f; 32]).unwrap();
        assert!(matches!(
            PseudonymKey::from_file("1", &path),
            Err(KeyError::Malformed(_) | KeyError::Unreadable { .. })
        ));
        assert!(matches!(
            PseudonymKey::from_file("1", &dir.join("missing")),
            Err(KeyError::Unreadable { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
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
