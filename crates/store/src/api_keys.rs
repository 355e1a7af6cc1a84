//! API keys: `wk_sandbox_<40 hex>` / `wk_live_<40 hex>` (160 random bits), stored as SHA-256
//! hashes with a short display prefix. Looked up by hash on every request that presents one.

use chrono::{DateTime, Utc};
use rand::CryptoRng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use wekeza_domain::AppId;

use crate::entity::api_keys::{self, Column, Entity};
use crate::entity::enums::AppEnvironment;
use crate::id::ApiKeyId;
use crate::{Error, Result, secret};

/// Random bytes in a key (160 bits).
const KEY_BYTES: usize = 20;
/// Random characters kept in the display prefix.
const PREFIX_RANDOM_CHARS: usize = 8;

/// An API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// The app it authenticates.
    pub app_id: AppId,
    /// `wk_sandbox_` plus the first 8 random characters, to tell keys apart.
    pub key_prefix: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly issued key: the stored record and the key itself, shown once.
#[derive(Debug)]
pub struct IssuedApiKey {
    /// The stored record.
    pub record: ApiKey,
    /// The key, e.g. `wk_sandbox_3f9a…`.
    pub key: String,
}

/// The fixed start of keys of an environment.
pub fn key_tag(environment: AppEnvironment) -> &'static str {
    match environment {
        AppEnvironment::Sandbox => "wk_sandbox_",
        AppEnvironment::Production => "wk_live_",
    }
}

/// Issues a new key for the app.
pub async fn issue(
    db: &impl ConnectionTrait,
    app_id: &AppId,
    environment: AppEnvironment,
    now: DateTime<Utc>,
    rng: &mut (impl CryptoRng + Send),
) -> Result<IssuedApiKey> {
    let mut random = [0u8; KEY_BYTES];
    rng.fill_bytes(&mut random);
    let random = hex::encode(random);
    let tag = key_tag(environment);
    let key = format!("{tag}{random}");
    let key_prefix = format!(
        "{tag}{}",
        random.chars().take(PREFIX_RANDOM_CHARS).collect::<String>()
    );
    let row = api_keys::Model {
        id: ApiKeyId::generate(now, rng).to_string(),
        app_id: app_id.to_string(),
        key_prefix,
        key_hash: secret::sha256_hex(&key),
        created_at: now,
        revoked_at: None,
    };
    Entity::insert(api_keys::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(IssuedApiKey {
        record: ApiKey::try_from(row)?,
        key,
    })
}

/// The unrevoked key matching `key`, if any. Looked up by the key's hash, so the time taken
/// tells nothing about the stored keys.
pub async fn find_by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<ApiKey>> {
    Entity::find()
        .filter(Column::KeyHash.eq(secret::sha256_hex(key)))
        .filter(Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

/// Revokes the key; answers whether it was active until now.
pub async fn revoke(db: &impl ConnectionTrait, id: &ApiKeyId, now: DateTime<Utc>) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

impl TryFrom<api_keys::Model> for ApiKey {
    type Error = Error;

    fn try_from(row: api_keys::Model) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("api_keys.{what} of {}", row.id));
        Ok(Self {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            app_id: row.app_id.parse().map_err(|_| corrupt("app_id"))?,
            key_prefix: row.key_prefix,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}
