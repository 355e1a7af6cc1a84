//! Secrets the platform must read back, sealed at rest: AES-256-GCM under the configured
//! [`KeyEncryptionKey`] (`WEKEZA_KEY_ENCRYPTION_KEY`).
//!
//! A sealed value reads `aes256gcm:<key fingerprint>:<nonce>:<ciphertext>` (nonce and
//! ciphertext base64url without padding). The caller names what the value belongs to — a row's
//! id — as associated data, so a sealed value moved to another row no longer opens. The
//! fingerprint names the key without revealing it, so a value sealed under another key is
//! reported as such rather than as corrupt.
//!
//! Token-signing keys (identity) and webhook signing secrets are sealed with it. Hashing, for
//! secrets that only need comparing, is in [`crate::secret`].

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The prefix of every sealed value.
pub const SEALED_PREFIX: &str = "aes256gcm:";

/// The prefix of a secret stored in the clear by [`seal_secret`] (no key configured).
const CLEAR_PREFIX: &str = "clear:";

/// Bytes of an AES-GCM nonce.
const NONCE_LEN: usize = 12;

/// Why a key could not be read or a value could not be sealed or opened. Never carries the key
/// or the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    /// The configured key is not base64.
    #[error("the key-encryption key is not base64")]
    KeyNotBase64,
    /// The configured key is not 256 bits long.
    #[error("the key-encryption key must be 32 bytes (256 bits)")]
    KeyLength,
    /// The value was sealed under another key, named by its fingerprint.
    #[error("sealed under another key-encryption key ({0})")]
    OtherKey(String),
    /// The value is not a sealed value, or does not open for the associated data given.
    #[error("unreadable sealed value")]
    Corrupt,
    /// The value is sealed but no key-encryption key is configured.
    #[error("sealed, but no key-encryption key is configured")]
    NoKey,
    /// The cipher refused to seal (never expected with a 32-byte key).
    #[error("cannot seal")]
    Seal,
}

/// The key that seals secrets at rest: 256 bits, configured as base64. Its `Debug` output shows
/// only its fingerprint.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyEncryptionKey({})", self.fingerprint())
    }
}

impl KeyEncryptionKey {
    /// Reads a key written as base64 (standard or URL-safe, padded or not) of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SealingError> {
        let text = text.trim().trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .map_err(|_| SealingError::KeyNotBase64)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealingError::KeyLength)?;
        Ok(Self(key))
    }

    /// Names the key without revealing it: the first 8 bytes of its SHA-256, hex.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.0)
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&aes_gcm::Key::<Aes256Gcm>::from(self.0))
    }

    /// `plain` sealed for `associated` (e.g. the id of the row that stores it), with a fresh
    /// random nonce, prefixed with [`SEALED_PREFIX`].
    pub fn seal(&self, associated: &str, plain: &[u8]) -> Result<String, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::secret::os_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: associated.as_bytes(),
                },
            )
            .map_err(|_| SealingError::Seal)?;
        Ok(format!(
            "{SEALED_PREFIX}{}:{}:{}",
            self.fingerprint(),
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// The bytes sealed in `sealed` (a value [`Self::seal`] made, prefix included) for
    /// `associated`.
    pub fn open(&self, associated: &str, sealed: &str) -> Result<Vec<u8>, SealingError> {
        let body = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealingError::Corrupt)?;
        let mut parts = body.split(':');
        let (Some(fingerprint), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealingError::Corrupt);
        };
        if fingerprint != self.fingerprint() {
            return Err(SealingError::OtherKey(fingerprint.to_owned()));
        }
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| SealingError::Corrupt)?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| SealingError::Corrupt)?;
        if nonce.len() != NONCE_LEN {
            return Err(SealingError::Corrupt);
        }
        self.cipher()
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: associated.as_bytes(),
                },
            )
            .map_err(|_| SealingError::Corrupt)
    }
}

/// How a secret is stored: sealed under `key` for `associated` when a key is configured, else in
/// the clear (`clear:<secret>`) — as the signing keys are; production refuses to start without
/// a key.
pub fn seal_secret(
    key: Option<&KeyEncryptionKey>,
    associated: &str,
    secret: &str,
) -> Result<String, SealingError> {
    match key {
        Some(key) => key.seal(associated, secret.as_bytes()),
        None => Ok(format!("{CLEAR_PREFIX}{secret}")),
    }
}

/// The secret [`seal_secret`] stored as `stored` for `associated`. A secret stored in the clear
/// reads without a key; a sealed one needs the key it was sealed under.
pub fn open_secret(
    key: Option<&KeyEncryptionKey>,
    associated: &str,
    stored: &str,
) -> Result<String, SealingError> {
    if let Some(clear) = stored.strip_prefix(CLEAR_PREFIX) {
        return Ok(clear.to_owned());
    }
    let key = key.ok_or(SealingError::NoKey)?;
    String::from_utf8(key.open(associated, stored)?).map_err(|_| SealingError::Corrupt)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    const KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA";
    const OTHER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn sealed_values_open_only_with_their_key_and_row() {
        let key = KeyEncryptionKey::parse(KEY).unwrap();
        let sealed = key.seal("row_1", b"secret bytes").unwrap();
        assert!(sealed.starts_with(&format!("{SEALED_PREFIX}{}:", key.fingerprint())));
        assert!(!sealed.contains("secret"));
        assert_eq!(key.open("row_1", &sealed).unwrap(), b"secret bytes");
        assert_ne!(key.seal("row_1", b"secret bytes").unwrap(), sealed, "nonce");
        assert_eq!(key.open("row_2", &sealed), Err(SealingError::Corrupt));
        let other = KeyEncryptionKey::parse(OTHER).unwrap();
        assert!(matches!(
            other.open("row_1", &sealed),
            Err(SealingError::OtherKey(_))
        ));
        assert_eq!(key.open("row_1", "pkcs8:abc"), Err(SealingError::Corrupt));
    }

    #[test]
    fn secrets_are_sealed_when_a_key_is_configured_and_clear_otherwise() {
        let key = KeyEncryptionKey::parse(KEY).unwrap();
        let sealed = seal_secret(Some(&key), "whe_1", "whsec_abc").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX) && !sealed.contains("whsec_abc"));
        assert_eq!(
            open_secret(Some(&key), "whe_1", &sealed).unwrap(),
            "whsec_abc"
        );
        assert_eq!(
            open_secret(None, "whe_1", &sealed),
            Err(SealingError::NoKey)
        );
        let clear = seal_secret(None, "whe_1", "whsec_abc").unwrap();
        assert_eq!(clear, "clear:whsec_abc");
        assert_eq!(
            open_secret(Some(&key), "whe_1", &clear).unwrap(),
            "whsec_abc"
        );
    }

    #[test]
    fn values_sealed_in_the_stored_format_by_another_implementation_open() {
        // The format signing keys have always been stored in, made with another AES-GCM
        // implementation (nonce 00..0b, associated data the row id): existing rows must open.
        const STORED: &str = "aes256gcm:359397539cc67687:AAECAwQFBgcICQoL:\
                              k3ejO85R9YrtCrNKPTnT9TJP92O4vplqUz6Cp2OUeg";
        let key = KeyEncryptionKey::parse(KEY).unwrap();
        assert_eq!(key.fingerprint(), "359397539cc67687");
        assert_eq!(key.open("kid_1", STORED).unwrap(), b"pkcs8 der bytes");
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes_and_never_show() {
        assert_eq!(
            KeyEncryptionKey::parse("c2hvcnQ").unwrap_err(),
            SealingError::KeyLength
        );
        assert_eq!(
            KeyEncryptionKey::parse("not base64!").unwrap_err(),
            SealingError::KeyNotBase64
        );
        let key = KeyEncryptionKey::parse(OTHER).unwrap();
        assert_eq!(
            key.fingerprint(),
            KeyEncryptionKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
                .unwrap()
                .fingerprint()
        );
        assert!(!format!("{key:?}").contains(OTHER));
    }
}
