//! DPoP proofs (RFC 9449): checked at the token endpoint, where a valid proof binds the new
//! token to the proof's key, and on every API call made with a DPoP-bound token.
//!
//! [`Identity::verify_dpop_proof`] walks the checklist of RFC 9449 §4.3 in order; the numbers
//! in the comments are its steps. Server-provided nonces (step 10) are not used.

use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, Method};
use jsonwebtoken::jwk::ThumbprintHash;
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::issuer::normalize_url;
use crate::jwt::{self, CLIENT_ALGORITHMS, CLOCK_SKEW};
use crate::{Error, Identity};

/// The header carrying the proof.
pub const DPOP_HEADER: &str = "dpop";
/// The proof's JOSE `typ`.
const PROOF_TYPE: &str = "dpop+jwt";
/// How old a proof's `iat` may be.
pub(crate) const PROOF_MAX_AGE: Duration = Duration::seconds(120);

/// The claims of a proof.
#[derive(Debug, Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
}

/// What a proof must match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProofTarget<'a> {
    /// The request's method.
    pub(crate) method: &'a Method,
    /// The request's URL as the client addressed it (query ignored).
    pub(crate) url: &'a str,
    /// The access token presented with it, on API calls (its hash must be the proof's `ath`).
    pub(crate) access_token: Option<&'a str>,
}

impl Identity {
    /// Checks the request's DPoP proof against `target`; answers the proof key's JWK
    /// SHA-256 thumbprint (what a bound token's `cnf.jkt` holds).
    pub(crate) async fn verify_dpop_proof(
        &self,
        headers: &HeaderMap,
        target: ProofTarget<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let bad = |why: &str| Error::InvalidDpopProof(why.to_owned());
        // 1. Exactly one DPoP header.
        let mut values = headers.get_all(DPOP_HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(bad("exactly one DPoP header is required"));
        };
        let proof = value.to_str().map_err(|_| bad("malformed proof"))?;
        // 2. A well-formed JWS.
        let header = jwt::raw_header(proof).ok_or_else(|| bad("malformed proof"))?;
        // 4. typ.
        if header.get("typ").and_then(Value::as_str) != Some(PROOF_TYPE) {
            return Err(bad("typ must be dpop+jwt"));
        }
        // 5. An asymmetric algorithm we support.
        let algorithm = jwt::allowed_algorithm(&header, &CLIENT_ALGORITHMS)
            .ok_or_else(|| bad("unsupported alg"))?;
        // 7. A public key, no private parts.
        let jwk_json = header
            .get("jwk")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("the header must carry the public key as jwk"))?;
        let (jwk, key) = jwt::public_key(jwk_json).map_err(bad)?;
        // 6. The signature, with that key. (3: the claims are all required by `ProofClaims`.)
        let claims =
            jsonwebtoken::decode::<ProofClaims>(proof, &key, &jwt::signature_only(algorithm))
                .map_err(|_| bad("bad signature or missing claims"))?
                .claims;
        // 8. The method.
        if claims.htm != target.method.as_str() {
            return Err(bad("htm does not match the request method"));
        }
        // 9. The URL.
        let expected = normalize_url(target.url);
        if expected.is_none() || normalize_url(&claims.htu) != expected {
            return Err(bad("htu does not match the request URL"));
        }
        // 11. Fresh.
        let issued = jwt::instant(claims.iat).ok_or_else(|| bad("bad iat"))?;
        if issued > now + CLOCK_SKEW || issued < now - PROOF_MAX_AGE {
            return Err(bad("iat is outside the accepted window"));
        }
        // 12. Bound to the access token.
        if let Some(token) = target.access_token {
            let expected = jwt::sha256_b64url(token);
            let matches = claims
                .ath
                .as_deref()
                .is_some_and(|ath| bool::from(ath.as_bytes().ct_eq(expected.as_bytes())));
            if !matches {
                return Err(bad("ath does not match the access token"));
            }
        }
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| bad("unusable jwk"))?;
        // Single use, per key (RFC 9449 §11.1), for as long as the proof could be accepted.
        let first = self
            .inner
            .replays
            .first_use(
                &format!("dpop:{thumbprint}"),
                &claims.jti,
                issued + PROOF_MAX_AGE + CLOCK_SKEW,
                now,
            )
            .await?;
        if !first {
            return Err(bad("the proof was already used"));
        }
        Ok(thumbprint)
    }
}
