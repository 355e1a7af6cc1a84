//! The platform's token-signing keys. One key signs at a time (the newest unretired one); a key
//! replaced by a newer one is *retired* but stays published in the JWKS until every token it
//! signed has expired, so rotation never breaks a token in flight.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};

pub use super::entity::signing_keys::Model as SigningKey;
use super::entity::signing_keys::{ActiveModel, Column, Entity};
use crate::Result;

/// Stores `key` as the signing key and retires every other unretired key at `key.created_at`,
/// in one transaction.
pub async fn rotate_to<C>(db: &C, key: SigningKey) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    let now = key.created_at;
    let txn = db.begin().await?;
    Entity::update_many()
        .col_expr(Column::RetiredAt, Expr::value(now))
        .filter(Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    Entity::insert(ActiveModel::from(key))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The keys still published: unretired ones and those retired after `retired_after`, oldest
/// first (so the last unretired key is the one to sign with).
pub async fn published(
    db: &impl ConnectionTrait,
    retired_after: DateTime<Utc>,
) -> Result<Vec<SigningKey>> {
    Ok(Entity::find()
        .filter(
            Condition::any()
                .add(Column::RetiredAt.is_null())
                .add(Column::RetiredAt.gt(retired_after)),
        )
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Kid)
        .all(db)
        .await?)
}

/// Deletes keys retired at or before `retired_before`: nothing they signed is valid any more.
pub async fn delete_retired(
    db: &impl ConnectionTrait,
    retired_before: DateTime<Utc>,
) -> Result<u64> {
    let result = Entity::delete_many()
        .filter(Column::RetiredAt.lte(retired_before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
