//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1 over 30-second steps, 6 digits — what
//! authenticator apps compute from the base32 secret of a customer's second factor. The sandbox
//! shows its test users' current codes; the sign-in pages check them, and accept each code once
//! (RFC 6238 §5.2: [`verify`] names the code's time step, which the sign-in records). The
//! arithmetic is `totp-rs`'s; this module fixes the parameters and reads the stored secret.

use chrono::{DateTime, Utc};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::Error;

/// Seconds per time step (RFC 6238's default).
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Steps either side of the current one that a code may come from (RFC 6238 §5.2: clocks
/// drift).
const SKEW_STEPS: u16 = 1;

/// The generator for the base32 (RFC 4648, unpadded) `secret`.
fn generator(secret: &str) -> Result<Totp, Error> {
    let secret = Secret::try_from_base32(secret.trim_end_matches('='))
        .map_err(|_| Error::Key("a stored TOTP secret is not base32".into()))?;
    // Not `build`: that refuses secrets under 128 bits, and a stored secret of any length
    // worked before; the parameters themselves are RFC 6238's.
    Ok(Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS)
        .with_skew(SKEW_STEPS)
        .with_secret(secret)
        .build_noncompliant())
}

/// Seconds since the epoch; 0 before it.
fn seconds(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0)
}

/// The code for the base32 (RFC 4648, unpadded) `secret` at `at`.
pub fn code(secret: &str, at: DateTime<Utc>) -> Result<String, Error> {
    Ok(generator(secret)?.generate(seconds(at)).to_string())
}

/// The time step (RFC 6238's `T`) whose code for `secret` `given` is, if it is the code at
/// `at` or one step either side; `None` otherwise. A code must be accepted once only (§5.2):
/// the caller records the step ([`wekeza_store::identity::second_factor_steps`]).
pub fn verify(secret: &str, given: &str, at: DateTime<Utc>) -> Result<Option<i64>, Error> {
    Ok(generator(secret)?
        .check(given, seconds(at))
        .and_then(|step| i64::try_from(step).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (the last 6 of its 8 digits).
    #[test]
    fn matches_the_rfc_vectors() {
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
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
        assert_eq!(verify(&secret, "287082", at).ok(), Some(Some(1)));
        let step = chrono::Duration::seconds(30);
        assert_eq!(
            verify(&secret, "287082", at + step).ok(),
            Some(Some(1)),
            "one step of drift: still the code of step 1"
        );
        assert_eq!(verify(&secret, "287082", at + step * 3).ok(), Some(None));
    }
}
