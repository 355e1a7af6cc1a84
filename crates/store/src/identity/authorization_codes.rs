//! Authorization codes (RFC 6749 §4.1), stored by the SHA-256 of the code. A code is redeemed
//! once: [`redeem`] is one conditional `UPDATE`, so of two concurrent redemptions exactly one
//! wins, and the row stays (with the family it started) so a replay can be recognised and the
//! family revoked.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

pub use super::entity::authorization_codes::Model as AuthorizationCode;
use super::entity::authorization_codes::{ActiveModel, Column, Entity};
use crate::Result;

/// Stores a new code.
pub async fn insert(db: &impl ConnectionTrait, code: AuthorizationCode) -> Result<()> {
    Entity::insert(ActiveModel::from(code))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The code whose SHA-256 is `code_hash`, if any.
pub async fn find(db: &impl ConnectionTrait, code_hash: &str) -> Result<Option<AuthorizationCode>> {
    Ok(Entity::find_by_id(code_hash).one(db).await?)
}

/// Marks the code redeemed at `now`, starting the token family `grant_id`; `false` if it was
/// already redeemed (or is gone).
pub async fn redeem(
    db: &impl ConnectionTrait,
    code_hash: &str,
    grant_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::RedeemedAt, Expr::value(now))
        .col_expr(Column::GrantId, Expr::value(grant_id))
        .filter(Column::CodeHash.eq(code_hash))
        .filter(Column::RedeemedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes codes that expired at or before `expired_before`; answers how many.
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
