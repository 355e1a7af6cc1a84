//! PKCE (RFC 7636) with the S256 method only: FAPI 2.0 refuses `plain`, which would put the
//! verifier itself in the front channel.

use subtle::ConstantTimeEq;

use crate::Error;
use crate::jwt::sha256_b64url;

/// The only accepted `code_challenge_method`.
pub const S256: &str = "S256";

/// The length of an S256 challenge: base64url (no padding) of 32 bytes.
const CHALLENGE_LEN: usize = 43;

/// Whether every character is in RFC 7636's unreserved set (§4.1).
fn unreserved(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a challenge and its method (absent means S256) at the authorization request.
pub(crate) fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<String, Error> {
    match method {
        None | Some(S256) => {}
        Some("plain") => {
            return Err(Error::InvalidParameter(
                "code_challenge_method",
                "plain is not allowed: use S256".into(),
            ));
        }
        Some(_) => {
            return Err(Error::InvalidParameter(
                "code_challenge_method",
                "must be S256".into(),
            ));
        }
    }
    let challenge = challenge.ok_or_else(|| {
        Error::InvalidParameter("code_challenge", "is required (PKCE, S256)".into())
    })?;
    let base64url = challenge
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'));
    if challenge.len() != CHALLENGE_LEN || !base64url {
        return Err(Error::InvalidParameter(
            "code_challenge",
            "must be the base64url SHA-256 of the verifier (43 characters)".into(),
        ));
    }
    Ok(challenge.to_owned())
}

/// Whether `verifier` (43 to 128 unreserved characters) hashes to `challenge`, compared in
/// constant time.
pub(crate) fn verifies(verifier: &str, challenge: &str) -> bool {
    if !(43..=128).contains(&verifier.len()) || !unreserved(verifier) {
        return false;
    }
    bool::from(
        sha256_b64url(verifier)
            .as_bytes()
            .ct_eq(challenge.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier and its S256 challenge, computed independently (Python's hashlib).
    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc";

    #[test]
    fn s256_verifies_a_known_pair() {
        assert!(verifies(VERIFIER, CHALLENGE));
        assert!(!verifies(&VERIFIER.replace('d', "e"), CHALLENGE));
        assert!(!verifies("short", CHALLENGE));
        assert!(!verifies(&format!("{VERIFIER} "), CHALLENGE));
    }

    #[test]
    fn only_s256_challenges_are_accepted() {
        assert_eq!(
            check_challenge(Some(CHALLENGE), None).ok().as_deref(),
            Some(CHALLENGE)
        );
        assert!(check_challenge(Some(CHALLENGE), Some("S256")).is_ok());
        assert!(check_challenge(Some(VERIFIER), Some("plain")).is_err());
        assert!(check_challenge(Some(CHALLENGE), Some("s256")).is_err());
        assert!(check_challenge(None, None).is_err());
        assert!(check_challenge(Some("too-short"), None).is_err());
    }
}
