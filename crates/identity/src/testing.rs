//! Test support (feature `testing`): [`ClientKey`], the P-256 key a test client registers in its
//! app's JWKS and signs client assertions and DPoP proofs with. Real crypto, no canned tokens.
#![allow(
    clippy::expect_used,
    reason = "test support: failing loudly is the point"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand::RngCore;
use serde_json::{Value, json};

/// A client's signing key.
pub struct ClientKey {
    encoding: EncodingKey,
    kid: String,
    x: String,
    y: String,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let secret = loop {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let der = secret.to_pkcs8_der().expect("encode the key");
        let point = secret.public_key().to_encoded_point(false);
        Self {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            kid: format!(
                "test-{}",
                URL_SAFE_NO_PAD.encode(rng.next_u64().to_be_bytes())
            ),
            x: URL_SAFE_NO_PAD.encode(point.x().expect("affine x")),
            y: URL_SAFE_NO_PAD.encode(point.y().expect("affine y")),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK without `kid`, `alg` or `use` (as a DPoP proof carries it).
    pub fn bare_jwk(&self) -> Value {
        json!({ "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y })
    }

    /// The public key as a JWK for a JWKS: with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.bare_jwk();
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("sig");
        jwk
    }

    /// A JWKS holding just this key, as registered on an app.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.public_jwk()] }).to_string()
    }

    /// The JWK SHA-256 thumbprint (RFC 7638): a DPoP-bound token's `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.bare_jwk()).expect("a JWK");
        jwk.thumbprint(ThumbprintHash::SHA256)
            .expect("a thumbprint")
    }

    /// Signs `claims` under the JOSE `header` (any members: tests build bad ones too) with ES256.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::ES256)
                .expect("sign");
        format!("{message}.{signature}")
    }

    /// A client assertion (RFC 7523) of `client_id` for `audience`, issued at `now`, valid a
    /// minute, with a fresh `jti`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: DateTime<Utc>) -> String {
        self.assertion_with(&json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now.timestamp(),
            "exp": (now + Duration::seconds(60)).timestamp(),
            "jti": random_jti(),
        }))
    }

    /// A client assertion with exactly these claims.
    pub fn assertion_with(&self, claims: &Value) -> String {
        self.sign(
            &json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid }),
            claims,
        )
    }

    /// A DPoP proof for `htm` `htu` at `now`, with `ath` when `access_token` is given.
    pub fn dpop_proof(
        &self,
        htm: &str,
        htu: &str,
        now: DateTime<Utc>,
        access_token: Option<&str>,
    ) -> String {
        let mut claims = json!({
            "jti": random_jti(),
            "htm": htm,
            "htu": htu,
            "iat": now.timestamp(),
        });
        if let Some(token) = access_token {
            claims["ath"] = json!(crate::jwt::sha256_b64url(token));
        }
        self.dpop_proof_with(&claims)
    }

    /// A DPoP proof with exactly these claims.
    pub fn dpop_proof_with(&self, claims: &Value) -> String {
        self.sign(
            &json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.bare_jwk() }),
            claims,
        )
    }
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
