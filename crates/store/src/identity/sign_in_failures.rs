//! Failed sign-ins per username, for lock-out: failures counted in a window, and a lock after
//! too many. Kept for every username tried, existing or not, so the lock-out is no oracle for
//! which usernames exist.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue, ConnectionTrait, EntityTrait};

use super::entity::sign_in_failures::{ActiveModel, Column, Entity, Model};
use crate::Result;

/// Until when `username` is locked out, if it is at `now`.
pub async fn locked_until(
    db: &impl ConnectionTrait,
    username: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    Ok(Entity::find_by_id(username)
        .one(db)
        .await?
        .and_then(|row| row.locked_until)
        .filter(|until| *until > now))
}

/// Records a failure of `username` at `now`: failures older than `window` are forgotten; the
/// `limit`-th failure in a window locks the username for `lock_for`. Answers whether it is now
/// locked.
pub async fn record(
    db: &impl ConnectionTrait,
    username: &str,
    now: DateTime<Utc>,
    window: Duration,
    limit: i32,
    lock_for: Duration,
) -> Result<bool> {
    let previous = Entity::find_by_id(username).one(db).await?;
    let failures = match &previous {
        Some(row) if row.last_failure_at > now - window => row.failures.saturating_add(1),
        _ => 1,
    };
    let locked_until = (failures >= limit).then_some(now + lock_for);
    let row = Model {
        username: username.to_owned(),
        failures,
        last_failure_at: now,
        locked_until,
    };
    Entity::insert(ActiveModel::from(row))
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(Column::Username)
                .update_columns([Column::Failures, Column::LastFailureAt, Column::LockedUntil])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(locked_until.is_some())
}

/// Forgets the failures of `username` (after a successful sign-in).
pub async fn clear(db: &impl ConnectionTrait, username: &str) -> Result<()> {
    Entity::delete(ActiveModel {
        username: ActiveValue::Set(username.to_owned()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}
