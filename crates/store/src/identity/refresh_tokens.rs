//! Refresh tokens, stored by the SHA-256 of the token, in families: the tokens descending from
//! one authorization code share a `grant_id`. Using a token rotates it ([`rotate`], one
//! conditional `UPDATE`: of two concurrent uses one wins); presenting a rotated token again
//! means it leaked, and the whole family is revoked ([`revoke_family`]) together with the
//! access tokens issued alongside.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

pub use super::entity::refresh_tokens::Model as RefreshToken;
use super::entity::refresh_tokens::{ActiveModel, Column, Entity};
use crate::Result;

/// Stores a new refresh token.
pub async fn insert(db: &impl ConnectionTrait, token: RefreshToken) -> Result<()> {
    Entity::insert(ActiveModel::from(token))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The refresh token whose SHA-256 is `token_hash`, if any.
pub async fn find(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<RefreshToken>> {
    Ok(Entity::find_by_id(token_hash).one(db).await?)
}

/// Marks the token used at `now`; `false` if it was already used or revoked.
pub async fn rotate(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::RotatedAt, Expr::value(now))
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::RotatedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every token of the family `grant_id` at `now` and answers the family's tokens (whose
/// `access_jti`s the caller revokes too).
pub async fn revoke_family(
    db: &impl ConnectionTrait,
    grant_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<RefreshToken>> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::GrantId.eq(grant_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(Entity::find()
        .filter(Column::GrantId.eq(grant_id))
        .all(db)
        .await?)
}

/// Deletes tokens that expired at or before `expired_before`; answers how many.
pub async fn purge_expired(
    db: &impl ConnectionTrait,
    expired_before: DateTime<Utc>,
) -> Result<u64> {
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(expired_before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
