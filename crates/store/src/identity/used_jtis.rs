//! Single-use JWT ids (`jti`) already presented: client assertions (RFC 7523) and DPoP proofs
//! (RFC 9449) are refused the second time. Kept in the database, so a replay is caught whichever
//! instance of the platform it reaches, and across restarts.
//!
//! Ids live in namespaces (the issuing client, the proof's key), so two clients choosing the
//! same `jti` do not collide. Only the SHA-256 of namespace and id is stored.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TryInsertResult};

use super::entity::used_jtis::{ActiveModel, Column, Entity, Model};
use crate::{Result, secret};

/// Records `jti` in `namespace` until `expires_at`; answers `true` the first time and `false`
/// when it was already recorded (a replay). Atomic: of two concurrent uses, one wins.
pub async fn first_use(
    db: &impl ConnectionTrait,
    namespace: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let row = Model {
        id: secret::sha256_hex(&format!("{namespace}\u{0}{jti}")),
        expires_at,
    };
    let outcome = Entity::insert(ActiveModel::from(row))
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(matches!(outcome, TryInsertResult::Inserted(1)))
}

/// Deletes ids whose JWTs expired at or before `now`; answers how many.
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64> {
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
