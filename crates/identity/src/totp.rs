//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1 over 30-second steps, 6 digits — what
//! authenticator apps compute from the base32 secret of a customer's second factor. The sandbox
//! shows its test users' current codes; the sign-in pages check them.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::Error;

/// Seconds per time step (RFC 6238's default).
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The code for the base32 (RFC 4648, unpadded) `secret` at `at`.
pub fn code(secret: &str, at: DateTime<Utc>) -> Result<String, Error> {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.trim_end_matches('=').as_bytes())
        .map_err(|_| Error::Key("a stored TOTP secret is not base32".into()))?;
    let counter = u64::try_from(at.timestamp().div_euclid(STEP_SECONDS)).unwrap_or(0);
    Ok(hotp(&key, counter))
}

/// Whether `given` is the code for `secret` at `at` or one step either side (RFC 6238 §5.2:
/// clocks drift), compared in constant time.
pub fn verify(secret: &str, given: &str, at: DateTime<Utc>) -> Result<bool, Error> {
    let mut matched = subtle::Choice::from(0);
    for step in [-1, 0, 1] {
        let expected = code(secret, at + chrono::Duration::seconds(step * STEP_SECONDS))?;
        matched |= expected.as_bytes().ct_eq(given.as_bytes());
    }
    Ok(bool::from(matched))
}

/// HOTP (RFC 4226 §5.3): dynamic truncation of HMAC-SHA-1(key, counter).
fn hotp(key: &[u8], counter: u64) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        word % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (the last 6 of its 8 digits).
    #[test]
    fn matches_the_rfc_vectors() {
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        for (seconds, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            let at = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
            assert_eq!(
                code(&secret, at).ok().as_deref(),
                Some(expected),
                "{seconds}"
            );
        }
        assert!(code("not base32!", Utc::now()).is_err());
        let at = DateTime::from_timestamp(59, 0).unwrap_or_default();
        assert_eq!(verify(&secret, "287082", at).ok(), Some(true));
        let later = at + chrono::Duration::seconds(STEP_SECONDS);
        assert_eq!(
            verify(&secret, "287082", later).ok(),
            Some(true),
            "one step of drift"
        );
        let much_later = at + chrono::Duration::seconds(3 * STEP_SECONDS);
        assert_eq!(verify(&secret, "287082", much_later).ok(), Some(false));
    }
}
