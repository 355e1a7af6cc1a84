//! Secrets at rest: people's passwords as argon2id PHC strings, machine secrets (client secrets,
//! API keys) as SHA-256 hex, plus the random tokens and TOTP secrets handed out once.
//!
//! Machine secrets are ≥ 128-bit random values, so a fast hash suffices and is cheap enough to
//! check on every request; passwords are guessable, so they get a slow, salted hash. Every
//! comparison is constant-time.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{CryptoRng, RngCore, TryRngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Error, Result};

/// How much work a password hash costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordStrength {
    /// argon2id with OWASP's recommended minimum (19 MiB, 2 passes): real customers.
    Standard,
    /// argon2id with 1 MiB and one pass: the sandbox's published test users, whose passwords
    /// are public anyway and whose seeding must stay fast.
    Sandbox,
}

impl PasswordStrength {
    fn params(self) -> Result<Params> {
        let (memory_kib, passes) = match self {
            Self::Standard => (Params::DEFAULT_M_COST, Params::DEFAULT_T_COST),
            Self::Sandbox => (1024, 1),
        };
        Params::new(memory_kib, passes, 1, None).map_err(|_| Error::PasswordHash)
    }
}

/// Bytes of salt per password hash (the PHC recommendation).
const SALT_LEN: usize = 16;

/// Hashes `password` with argon2id and a salt drawn from `rng`, as a PHC string
/// (`$argon2id$v=19$m=…,t=…,p=1$<salt>$<hash>`). A seeded `rng` gives a reproducible hash.
pub fn hash_password(
    password: &str,
    strength: PasswordStrength,
    rng: &mut impl RngCore,
) -> Result<String> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, strength.params()?);
    let hash = hasher
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| Error::PasswordHash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (with the parameters the hash names).
/// A malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// SHA-256 of a machine secret, lowercase hex: what is stored instead of the secret.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `expected_hex`, compared in constant time.
pub fn matches_sha256_hex(expected_hex: &str, secret: &str) -> bool {
    sha256_hex(secret)
        .as_bytes()
        .ct_eq(expected_hex.as_bytes())
        .into()
}

/// The operating system's random generator, for machine secrets in production.
pub fn os_rng() -> impl CryptoRng + Send {
    rand::rngs::OsRng.unwrap_err()
}

/// A random token of `bytes` bytes, base64url without padding (`bytes` = 32 → 43 characters).
pub fn random_token(bytes: usize, rng: &mut impl CryptoRng) -> String {
    let mut buffer = vec![0u8; bytes];
    rng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A fresh TOTP shared secret: 160 random bits (RFC 4226's recommendation), base32 without
/// padding, as authenticator apps expect it.
pub fn generate_totp_secret(rng: &mut impl RngCore) -> String {
    let mut secret = [0u8; 20];
    rng.fill_bytes(&mut secret);
    data_encoding::BASE32_NOPAD.encode(&secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn passwords_verify_and_hashes_are_reproducible_from_a_seed() {
        let mut a = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let mut b = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let hash = hash_password("pass_good", PasswordStrength::Sandbox, &mut a).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            hash,
            hash_password("pass_good", PasswordStrength::Sandbox, &mut b).unwrap()
        );
        assert!(verify_password(&hash, "pass_good"));
        assert!(!verify_password(&hash, "pass_bad"));
        assert!(!verify_password("not a hash", "pass_good"));
    }

    #[test]
    fn machine_secrets_compare_by_hash() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        let token = random_token(32, &mut rng);
        assert_eq!(token.len(), 43);
        let stored = sha256_hex(&token);
        assert!(matches_sha256_hex(&stored, &token));
        assert!(!matches_sha256_hex(&stored, "guess"));
        assert_eq!(generate_totp_secret(&mut rng).len(), 32);
    }
}
