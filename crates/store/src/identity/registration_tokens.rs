//! Initial access tokens of dynamic client registration (RFC 7591 §3): an operator creates one
//! (`wekeza apps registration-token`) and hands it to a developer, whose software presents it as
//! a Bearer token at the registration endpoint. Each registers clients of one environment, any
//! number of them, until it expires.
//!
//! `wk_reg_` plus 256 random bits (base64url), shown once; only its SHA-256 is stored, and the
//! look-up is by that hash.

use chrono::{DateTime, Duration, Utc};
use rand::CryptoRng;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::entity::registration_tokens::{ActiveModel, Entity, Model};
use crate::entity::enums::AppEnvironment;
use crate::{Result, secret};

/// The fixed start of every token: tells it apart from client secrets and API keys (and lets
/// secret scanners find leaked ones).
const TOKEN_TAG: &str = "wk_reg_";
/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;

/// A stored initial access token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationToken {
    /// The environment of the clients it registers.
    pub environment: AppEnvironment,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops registering clients.
    pub expires_at: DateTime<Utc>,
}

/// A freshly created token: what is stored, and the token itself, shown once.
#[derive(Debug)]
pub struct IssuedRegistrationToken {
    /// The stored record.
    pub record: RegistrationToken,
    /// The token, `wk_reg_…`.
    pub token: String,
}

/// Creates a token registering clients of `environment`, valid for `ttl` from `now`.
///
/// `rng` must be a cryptographic generator; in production pass [`secret::os_rng`].
pub async fn issue(
    db: &impl ConnectionTrait,
    environment: AppEnvironment,
    ttl: Duration,
    now: DateTime<Utc>,
    rng: &mut impl CryptoRng,
) -> Result<IssuedRegistrationToken> {
    let token = format!("{TOKEN_TAG}{}", secret::random_token(TOKEN_BYTES, rng));
    let row = Model {
        token_hash: secret::sha256_hex(&token),
        environment,
        created_at: now,
        expires_at: now + ttl,
    };
    Entity::insert(ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(IssuedRegistrationToken {
        record: row.into(),
        token,
    })
}

/// The stored token `token` hashes to, if any — expired or not: the caller checks the time.
pub async fn find(db: &impl ConnectionTrait, token: &str) -> Result<Option<RegistrationToken>> {
    Ok(Entity::find_by_id(secret::sha256_hex(token))
        .one(db)
        .await?
        .map(RegistrationToken::from))
}

impl From<Model> for RegistrationToken {
    fn from(row: Model) -> Self {
        Self {
            environment: row.environment,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}
