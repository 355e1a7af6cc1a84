//! API keys: `wk_test_<40 hex>` (sandbox) / `wk_live_<40 hex>` (production), 160 random bits,
//! stored as SHA-256 hashes with a short display prefix; several per app, each with a label;
//! rotated with an overlap (the old key keeps working until a set time), revoked at once, and
//! their last use recorded. Looked up by hash on every request that presents one.

use chrono::{DateTime, Utc};
use rand::CryptoRng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
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
    /// `wk_test_` plus the first 8 random characters, to tell keys apart.
    pub key_prefix: String,
    /// The developer's label (e.g. "CI"); may be empty.
    pub display_name: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops (or stopped) working: set at once by a revocation, in the future by a
    /// rotation's overlap.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last presented (recorded at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key works at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none_or(|at| at > now)
    }
}

/// A freshly issued key: the stored record and the key itself, shown once.
#[derive(Debug)]
pub struct IssuedApiKey {
    /// The stored record.
    pub record: ApiKey,
    /// The key, e.g. `wk_test_3f9a…`.
    pub key: String,
}

/// The fixed start of keys of an environment.
pub fn key_tag(environment: AppEnvironment) -> &'static str {
    match environment {
        AppEnvironment::Sandbox => "wk_test_",
        AppEnvironment::Production => "wk_live_",
    }
}

/// The environment whose tag `key` starts with, if any.
pub fn environment_of(key: &str) -> Option<AppEnvironment> {
    [AppEnvironment::Sandbox, AppEnvironment::Production]
        .into_iter()
        .find(|environment| key.starts_with(key_tag(*environment)))
}

/// Issues a new key for the app, labelled `display_name`.
pub async fn issue(
    db: &impl ConnectionTrait,
    app_id: &AppId,
    environment: AppEnvironment,
    display_name: &str,
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
        display_name: display_name.to_owned(),
        last_used_at: None,
    };
    Entity::insert(api_keys::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(IssuedApiKey {
        record: ApiKey::try_from(row)?,
        key,
    })
}

/// The key matching `key`, revoked or not (so that callers can tell a revoked key from an
/// unknown one), if any. Looked up by the key's hash, so the time taken tells nothing about the
/// stored keys.
pub async fn find_by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<ApiKey>> {
    Entity::find()
        .filter(Column::KeyHash.eq(secret::sha256_hex(key)))
        .one(db)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

/// The app's keys, oldest first.
pub async fn list(db: &impl ConnectionTrait, app_id: &AppId) -> Result<Vec<ApiKey>> {
    Entity::find()
        .filter(Column::AppId.eq(app_id.as_str()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
}

/// The app's key `id`, if it has one.
pub async fn find(
    db: &impl ConnectionTrait,
    app_id: &AppId,
    id: &ApiKeyId,
) -> Result<Option<ApiKey>> {
    Entity::find_by_id(id.as_str())
        .filter(Column::AppId.eq(app_id.as_str()))
        .one(db)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

/// Stops the app's key `id` at `at` (now for a revocation, later for a rotation's overlap);
/// answers whether it was working and had no earlier end. A key's end is only ever brought
/// forward, never pushed back.
pub async fn revoke(
    db: &impl ConnectionTrait,
    app_id: &AppId,
    id: &ApiKeyId,
    at: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::AppId.eq(app_id.as_str()))
        .filter(
            Condition::any()
                .add(Column::RevokedAt.is_null())
                .add(Column::RevokedAt.gt(at)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Rotates the app's key `id`: issues a new key with the same label, and the old one keeps
/// working until `old_works_until`, so that deployments can switch over. `None` when the app
/// has no such working key.
pub async fn rotate<C>(
    db: &C,
    app_id: &AppId,
    id: &ApiKeyId,
    old_works_until: DateTime<Utc>,
    now: DateTime<Utc>,
    rng: &mut (impl CryptoRng + Send),
) -> Result<Option<IssuedApiKey>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let Some(old) = find(&txn, app_id, id).await? else {
        return Ok(None);
    };
    if !old.is_active(now) || !revoke(&txn, app_id, id, old_works_until).await? {
        return Ok(None);
    }
    let environment = environment_of(&old.key_prefix)
        .ok_or_else(|| Error::Corrupt(format!("api_keys.key_prefix of {id}")))?;
    let issued = issue(&txn, app_id, environment, &old.display_name, now, rng).await?;
    txn.commit().await?;
    Ok(Some(issued))
}

/// Records that the keys were presented at the given times (a later time only ever replaces an
/// earlier one).
pub async fn record_use(
    db: &impl ConnectionTrait,
    uses: &[(ApiKeyId, DateTime<Utc>)],
) -> Result<()> {
    for (id, at) in uses {
        Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(*at))
            .filter(Column::Id.eq(id.as_str()))
            .filter(
                Condition::any()
                    .add(Column::LastUsedAt.is_null())
                    .add(Column::LastUsedAt.lt(*at)),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

impl TryFrom<api_keys::Model> for ApiKey {
    type Error = Error;

    fn try_from(row: api_keys::Model) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("api_keys.{what} of {}", row.id));
        Ok(Self {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            app_id: row.app_id.parse().map_err(|_| corrupt("app_id"))?,
            key_prefix: row.key_prefix,
            display_name: row.display_name,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        })
    }
}
