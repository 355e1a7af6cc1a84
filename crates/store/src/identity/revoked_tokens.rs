//! Access tokens revoked before their expiry (RFC 7009), by `jti`. A row matters only until the
//! token expires; [`purge_expired`] removes the rest.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entity::revoked_tokens::{ActiveModel, Column, Entity, Model};
use crate::Result;

/// Records that the token `jti`, issued to `client_id` and valid until `expires_at`, is revoked.
/// Revoking a revoked token again changes nothing.
pub async fn revoke(
    db: &impl ConnectionTrait,
    jti: &str,
    client_id: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = Model {
        jti: jti.to_owned(),
        client_id: client_id.to_owned(),
        expires_at,
        revoked_at: now,
    };
    Entity::insert(ActiveModel::from(row))
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Whether the token `jti` was revoked.
pub async fn is_revoked(db: &impl ConnectionTrait, jti: &str) -> Result<bool> {
    Ok(Entity::find_by_id(jti).one(db).await?.is_some())
}

/// Deletes revocations of tokens expired at or before `now`; answers how many.
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64> {
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
