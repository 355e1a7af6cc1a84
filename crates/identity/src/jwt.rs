//! JOSE helpers shared by the checks of access tokens, client assertions and DPoP proofs.
//!
//! `jsonwebtoken` verifies signatures and algorithms; every claim (times included) is checked
//! by this crate against the injected clock, never against the library's wall clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How far a client's clock may run ahead of ours (FAPI 2.0 asks for 10 s), and how long after
/// `exp` a token is still accepted for clocks running behind.
pub(crate) const CLOCK_SKEW: Duration = Duration::seconds(10);

/// Asymmetric algorithms accepted from clients (assertions, DPoP proofs): the FAPI 2.0 set and
/// its larger siblings. Never `none`, never HMAC, never RS256 (PKCS#1 v1.5).
pub(crate) const CLIENT_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// The names of [`CLIENT_ALGORITHMS`], for the discovery document.
pub(crate) const CLIENT_ALGORITHM_NAMES: [&str; 6] =
    ["ES256", "ES384", "PS256", "PS384", "PS512", "EdDSA"];

/// An `aud` claim: one audience or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    /// `"aud": "https://…"`.
    One(String),
    /// `"aud": ["https://…", …]`.
    Many(Vec<String>),
}

impl Audience {
    /// Whether any audience is one of `accepted`.
    pub(crate) fn names_any(&self, accepted: &[&str]) -> bool {
        match self {
            Self::One(audience) => accepted.contains(&audience.as_str()),
            Self::Many(audiences) => audiences.iter().any(|a| accepted.contains(&a.as_str())),
        }
    }
}

/// The JOSE header of `jwt` as raw JSON, unverified: to see members the typed header drops
/// (a private key inside a `jwk`, for instance). `None` if it is not a three-part JWS.
pub(crate) fn raw_header(jwt: &str) -> Option<Map<String, Value>> {
    let mut parts = jwt.split('.');
    let header = parts.next()?;
    let (Some(_payload), Some(_signature), None) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The header's `alg`, if it is one of `allowed`.
pub(crate) fn allowed_algorithm(
    header: &Map<String, Value>,
    allowed: &[Algorithm],
) -> Option<Algorithm> {
    let name = header.get("alg")?.as_str()?;
    let algorithm: Algorithm = name.parse().ok()?;
    allowed.contains(&algorithm).then_some(algorithm)
}

/// A validation that checks the signature and that the header names `algorithm`, and nothing
/// else: the caller checks the claims.
pub(crate) fn signature_only(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation
}

/// base64url (no padding) of the SHA-256 of `text`: DPoP's `ath`.
pub(crate) fn sha256_b64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// JWK members that only private or symmetric keys have.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// A JWK (as raw JSON, so that members the typed JWK drops are seen) checked to be an asymmetric
/// public key — EC, RSA or OKP, without private members — and the key that verifies with it.
/// `Err` says what is wrong, for the client.
pub(crate) fn public_key(raw: &Map<String, Value>) -> Result<(Jwk, DecodingKey), &'static str> {
    if PRIVATE_MEMBERS
        .iter()
        .any(|member| raw.contains_key(*member))
    {
        return Err("jwk must be a public key");
    }
    let jwk: Jwk =
        serde_json::from_value(Value::Object(raw.clone())).map_err(|_| "unreadable jwk")?;
    if !matches!(
        jwk.algorithm,
        AlgorithmParameters::EllipticCurve(_)
            | AlgorithmParameters::RSA(_)
            | AlgorithmParameters::OctetKeyPair(_)
    ) {
        return Err("jwk must be an asymmetric public key");
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "unusable jwk")?;
    Ok((jwk, key))
}

/// A JWT `NumericDate` as an instant.
pub(crate) fn instant(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_raw_headers_and_algorithms() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"dpop+jwt"}"#);
        let jwt = format!("{header}.e30.sig");
        let map = raw_header(&jwt).unwrap_or_default();
        assert_eq!(map.get("typ").and_then(Value::as_str), Some("dpop+jwt"));
        assert_eq!(
            allowed_algorithm(&map, &CLIENT_ALGORITHMS),
            Some(Algorithm::ES256)
        );
        assert_eq!(allowed_algorithm(&map, &[Algorithm::PS256]), None);
        assert!(raw_header("a.b").is_none());
        assert!(raw_header(&format!("{header}.e30.sig.extra")).is_none());
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let map = raw_header(&format!("{none}.e30.")).unwrap_or_default();
        assert_eq!(allowed_algorithm(&map, &CLIENT_ALGORITHMS), None);
    }

    #[test]
    fn algorithm_names_match_the_algorithms() {
        let parsed: Vec<Algorithm> = CLIENT_ALGORITHM_NAMES
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        assert_eq!(parsed, CLIENT_ALGORITHMS);
    }

    #[test]
    fn audiences_match_one_or_many() {
        let one = Audience::One("a".into());
        let many = Audience::Many(vec!["x".into(), "b".into()]);
        assert!(one.names_any(&["a", "b"]));
        assert!(many.names_any(&["a", "b"]));
        assert!(!Audience::Many(vec![]).names_any(&["a"]));
    }
}
