//! The platform's signing keys: ES256 (P-256) key pairs persisted in the database, created on
//! first start, rotated with overlap, and published as the JWKS.
//!
//! One key signs at a time: the newest unretired one. When it is [`ROTATION_PERIOD`] old the
//! next load creates a new key and *retires* the old one, which stays in the JWKS — and keeps
//! verifying — for [`RETIRED_KEY_PUBLISHED_FOR`], far longer than any token it signed lives.
//! Every instance reloads the keys from the database at least every [`REFRESH_EVERY`], and at
//! once (at most once a second) when a token names a key it does not know, so instances agree
//! on the keys after another one rotated them.
//!
//! Private keys are stored as PKCS#8 DER, sealed with AES-256-GCM under the configured
//! [`KeyEncryptionKey`] (`aes256gcm:<key fingerprint>:<nonce>:<ciphertext>`, the key id as
//! associated data, so a sealed key cannot be moved to another row), or in the clear
//! (`pkcs8:<base64>`) when none is configured. Keys stored in the clear stay readable after a
//! key-encryption key is configured; new keys are sealed. Private keys never leave this module:
//! no `Debug` output, no log line shows them.
//!
//! Access and ID tokens are signed with `ring` (the key parsed once per load; P-256 in
//! assembly with a precomputed base-point table): over 20 times cheaper than `jsonwebtoken`'s
//! RustCrypto signer, which re-parses the PKCS#8 key — a scalar multiplication of its own — at
//! every signature. The signatures are ordinary ES256, verified by `jsonwebtoken` like any other.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand::RngCore;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde::Serialize;
use serde_json::{Value, json};
use wekeza_store::DatabaseConnection;
use wekeza_store::identity::signing_keys::{self, SigningKey};
pub use wekeza_store::sealing::KeyEncryptionKey;
use wekeza_store::sealing::{SEALED_PREFIX, SealingError};

use crate::Error;

/// The algorithm of the platform's tokens.
pub(crate) const SIGNING_ALGORITHM: Algorithm = Algorithm::ES256;
/// The name of [`SIGNING_ALGORITHM`].
pub(crate) const SIGNING_ALGORITHM_NAME: &str = "ES256";
/// How long a key signs before a new one replaces it.
pub const ROTATION_PERIOD: Duration = Duration::days(30);
/// How long a retired key stays published (and verifies): much longer than any token lives.
pub const RETIRED_KEY_PUBLISHED_FOR: Duration = Duration::hours(1);
/// How often an instance re-reads the keys from the database.
pub const REFRESH_EVERY: Duration = Duration::seconds(60);
/// The least time between two reloads caused by unknown key ids.
const RELOAD_FOR_UNKNOWN_KID_GAP: Duration = Duration::seconds(1);
/// The stored format of private keys in the clear.
const PKCS8_PREFIX: &str = "pkcs8:";

/// The key that signs.
#[derive(Clone)]
pub(crate) struct ActiveKey {
    /// Its id, put in every token's header.
    pub(crate) kid: String,
    /// The private key, parsed once, for [`Self::sign_jwt`].
    pair: Arc<EcdsaKeyPair>,
}

impl ActiveKey {
    /// The compact JWS of `header` and `claims` signed with this key — what
    /// `jsonwebtoken::encode` makes, at a fraction of the cost (see the module doc).
    pub(crate) fn sign_jwt(
        &self,
        header: &Header,
        claims: &impl Serialize,
    ) -> Result<String, Error> {
        let failed = |what: &str| Error::Key(format!("signing a JWT: {what}"));
        if header.alg != SIGNING_ALGORITHM {
            return Err(failed("the key signs ES256 only"));
        }
        let header = serde_json::to_vec(header).map_err(|_| failed("bad header"))?;
        let claims = serde_json::to_vec(claims).map_err(|_| failed("bad claims"))?;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        // ECDSA_P256_SHA256_FIXED: r ‖ s, 64 bytes, as JWS ES256 wants (RFC 7518 §3.4).
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message.as_bytes())
            .map_err(|_| failed("ECDSA failed"))?;
        Ok(format!(
            "{message}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

/// What was read from the database in one go.
struct Loaded {
    active: ActiveKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: Arc<Value>,
    loaded_at: DateTime<Utc>,
}

/// The keys, cached in memory and refreshed from the database.
pub(crate) struct KeyRing {
    db: DatabaseConnection,
    sealing: Option<KeyEncryptionKey>,
    state: RwLock<Arc<Loaded>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.snapshot();
        f.debug_struct("KeyRing")
            .field("signing_kid", &state.active.kid)
            .field("published", &state.verifying.len())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the keys, creating the first one (or a replacement for one past its rotation
    /// period) when needed.
    pub(crate) async fn load(
        db: DatabaseConnection,
        sealing: Option<KeyEncryptionKey>,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let loaded = fetch(&db, sealing.as_ref(), now).await?;
        Ok(Self {
            db,
            sealing,
            state: RwLock::new(Arc::new(loaded)),
        })
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn reload(&self, now: DateTime<Utc>) -> Result<Arc<Loaded>, Error> {
        let loaded = Arc::new(fetch(&self.db, self.sealing.as_ref(), now).await?);
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = loaded.clone();
        Ok(loaded)
    }

    /// The keys, re-read when the cache is older than [`REFRESH_EVERY`].
    async fn current(&self, now: DateTime<Utc>) -> Result<Arc<Loaded>, Error> {
        let state = self.snapshot();
        if now - state.loaded_at >= REFRESH_EVERY || now < state.loaded_at {
            self.reload(now).await
        } else {
            Ok(state)
        }
    }

    /// The key to sign with now.
    pub(crate) async fn signer(&self, now: DateTime<Utc>) -> Result<ActiveKey, Error> {
        Ok(self.current(now).await?.active.clone())
    }

    /// The public key named `kid`, if it is published.
    pub(crate) async fn verifying_key(
        &self,
        kid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DecodingKey>, Error> {
        let state = self.current(now).await?;
        if let Some(key) = state.verifying.get(kid) {
            return Ok(Some(key.clone()));
        }
        // Another instance may have rotated: look again, but not for every garbage kid.
        if now - state.loaded_at < RELOAD_FOR_UNKNOWN_KID_GAP {
            return Ok(None);
        }
        Ok(self.reload(now).await?.verifying.get(kid).cloned())
    }

    /// The JWKS document: every published public key.
    pub(crate) async fn jwks(&self, now: DateTime<Utc>) -> Result<Arc<Value>, Error> {
        Ok(self.current(now).await?.jwks.clone())
    }
}

/// Rotates now, whatever the age of the signing key (`wekeza keys rotate`, e.g. after a
/// suspected leak): a new key signs from the next reload of every instance (at most
/// [`REFRESH_EVERY`]); the old one stays published for [`RETIRED_KEY_PUBLISHED_FOR`], so tokens
/// it signed keep verifying until they expire. Answers the new key's `kid`.
pub async fn rotate_signing_key(
    db: &DatabaseConnection,
    sealing: Option<&KeyEncryptionKey>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let key = generate(sealing, now)?;
    let kid = key.kid.clone();
    signing_keys::rotate_to(db, key).await?;
    signing_keys::delete_retired(db, now - RETIRED_KEY_PUBLISHED_FOR).await?;
    tracing::info!(%kid, "rotated the token-signing key");
    Ok(kid)
}

/// Reads the published keys, rotating first if no key may sign any more.
async fn fetch(
    db: &DatabaseConnection,
    sealing: Option<&KeyEncryptionKey>,
    now: DateTime<Utc>,
) -> Result<Loaded, Error> {
    let retired_after = now - RETIRED_KEY_PUBLISHED_FOR;
    let mut rows = signing_keys::published(db, retired_after).await?;
    let needs_rotation = rows
        .iter()
        .rev()
        .find(|row| row.retired_at.is_none())
        .is_none_or(|row| now - row.created_at >= ROTATION_PERIOD);
    if needs_rotation {
        rotate_signing_key(db, sealing, now).await?;
        rows = signing_keys::published(db, retired_after).await?;
    }
    let active_row = rows
        .iter()
        .rev()
        .find(|row| row.retired_at.is_none())
        .ok_or_else(|| Error::Key("no signing key after rotation".into()))?;
    let active = ActiveKey {
        kid: active_row.kid.clone(),
        pair: Arc::new(private_key(active_row, sealing)?),
    };
    let mut verifying = HashMap::new();
    let mut published = Vec::new();
    for row in &rows {
        let jwk: Value = serde_json::from_str(&row.public_jwk)
            .map_err(|_| Error::Key(format!("unreadable public key {}", row.kid)))?;
        let typed: Jwk = serde_json::from_value(jwk.clone())
            .map_err(|_| Error::Key(format!("unreadable public key {}", row.kid)))?;
        let decoding = DecodingKey::from_jwk(&typed)
            .map_err(|_| Error::Key(format!("unusable public key {}", row.kid)))?;
        verifying.insert(row.kid.clone(), decoding);
        published.push(jwk);
    }
    Ok(Loaded {
        active,
        verifying,
        jwks: Arc::new(json!({ "keys": published })),
        loaded_at: now,
    })
}

/// The signing key of a stored row, checked to be a P-256 private key (and its public key to
/// match it).
fn private_key(
    row: &SigningKey,
    sealing: Option<&KeyEncryptionKey>,
) -> Result<EcdsaKeyPair, Error> {
    let corrupt = || Error::Key(format!("unreadable private key {}", row.kid));
    let der = if let Some(clear) = row.private_key.strip_prefix(PKCS8_PREFIX) {
        STANDARD.decode(clear).map_err(|_| corrupt())?
    } else if row.private_key.starts_with(SEALED_PREFIX) {
        let key = sealing.ok_or_else(|| {
            Error::Key(format!(
                "private key {} is sealed: configure its key-encryption key",
                row.kid
            ))
        })?;
        key.open(&row.kid, &row.private_key)
            .map_err(|error| match error {
                SealingError::OtherKey(fingerprint) => Error::Key(format!(
                    "private key {} is sealed under another key-encryption key ({fingerprint})",
                    row.kid
                )),
                _ => corrupt(),
            })?
    } else {
        return Err(corrupt());
    };
    p256::SecretKey::from_pkcs8_der(&der).map_err(|_| corrupt())?;
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
        .map_err(|_| corrupt())
}

/// A fresh P-256 key pair as a row, created at `now`, its private key sealed if `sealing`.
fn generate(sealing: Option<&KeyEncryptionKey>, now: DateTime<Utc>) -> Result<SigningKey, Error> {
    let mut rng = wekeza_store::secret::os_rng();
    let secret = loop {
        // A random 256-bit string is a valid scalar but with probability ~2^-32 of being ≥ n.
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    let der = secret
        .to_pkcs8_der()
        .map_err(|_| Error::Key("cannot encode a new key".into()))?;
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(Error::Key("new key has no affine coordinates".into()));
    };
    let kid = wekeza_store::secret::random_token(12, &mut rng);
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
        "kid": kid,
        "alg": SIGNING_ALGORITHM_NAME,
        "use": "sig",
    });
    let private_key = match sealing {
        Some(key) => key
            .seal(&kid, der.as_bytes())
            .map_err(|_| Error::Key("cannot seal a signing key".into()))?,
        None => format!("{PKCS8_PREFIX}{}", STANDARD.encode(der.as_bytes())),
    };
    Ok(SigningKey {
        kid,
        algorithm: SIGNING_ALGORITHM_NAME.to_owned(),
        private_key,
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jsonwebtoken::EncodingKey;

    use super::*;

    #[test]
    fn signed_jwts_are_what_jsonwebtoken_makes_and_verifies() {
        let row = generate(None, Utc::now()).unwrap();
        let key = ActiveKey {
            kid: row.kid.clone(),
            pair: Arc::new(private_key(&row, None).unwrap()),
        };
        let der = STANDARD
            .decode(row.private_key.strip_prefix(PKCS8_PREFIX).unwrap())
            .unwrap();
        let mut header = Header::new(SIGNING_ALGORITHM);
        header.typ = Some("at+jwt".into());
        header.kid = Some(row.kid.clone());
        let claims = json!({ "sub": "app_1", "scope": "accounts.read", "exp": 2_000_000_000 });
        let token = key.sign_jwt(&header, &claims).unwrap();
        // ECDSA signatures differ from one signing to the next; what they sign must not.
        let reference =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&der)).unwrap();
        assert_eq!(
            token.rsplit_once('.').unwrap().0,
            reference.rsplit_once('.').unwrap().0
        );
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).unwrap();
        let verified = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &crate::jwt::signature_only(SIGNING_ALGORITHM),
        )
        .unwrap();
        assert_eq!(verified.claims, claims);
        // Another message's signature does not verify this one.
        let other = key.sign_jwt(&header, &json!({ "sub": "app_2" })).unwrap();
        let forged = format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            other.rsplit_once('.').unwrap().1
        );
        assert!(
            jsonwebtoken::decode::<Value>(
                &forged,
                &DecodingKey::from_jwk(&jwk).unwrap(),
                &crate::jwt::signature_only(SIGNING_ALGORITHM),
            )
            .is_err()
        );
        assert!(
            key.sign_jwt(&Header::new(Algorithm::RS256), &claims)
                .is_err()
        );
    }
}
