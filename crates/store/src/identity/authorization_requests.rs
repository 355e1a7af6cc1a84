//! Pushed authorization requests (RFC 9126) and the browser session that carries one through
//! sign-in and the consent screen. The `request_uri` is spent by the first browser that uses it
//! ([`start_session`], one conditional `UPDATE`), which gets the session cookie; each step then
//! moves the session on only from the stage it was decided on ([`advance`]).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

pub use super::entity::SignInStage;
pub use super::entity::authorization_requests::Model as AuthorizationRequest;
use super::entity::authorization_requests::{ActiveModel, Column, Entity};
use crate::Result;

/// Stores a newly pushed request.
pub async fn insert(db: &impl ConnectionTrait, request: AuthorizationRequest) -> Result<()> {
    Entity::insert(ActiveModel::from(request))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The request whose `request_uri` hashes to `request_uri_hash`, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    request_uri_hash: &str,
) -> Result<Option<AuthorizationRequest>> {
    Ok(Entity::find_by_id(request_uri_hash).one(db).await?)
}

/// The request whose session cookie hashes to `session_hash`, if any.
pub async fn find_by_session(
    db: &impl ConnectionTrait,
    session_hash: &str,
) -> Result<Option<AuthorizationRequest>> {
    Ok(Entity::find()
        .filter(Column::SessionHash.eq(session_hash))
        .one(db)
        .await?)
}

/// Spends the `request_uri`: starts the browser session `session_hash` (with its CSRF token's
/// hash) at `first_stage`, until `session_expires_at`. `false` if it was already spent
/// or has expired at `now`.
pub async fn start_session(
    db: &impl ConnectionTrait,
    request_uri_hash: &str,
    session_hash: &str,
    csrf_hash: &str,
    session_expires_at: DateTime<Utc>,
    first_stage: SignInStage,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::SessionHash, Expr::value(session_hash))
        .col_expr(Column::CsrfHash, Expr::value(csrf_hash))
        .col_expr(Column::SessionExpiresAt, Expr::value(session_expires_at))
        .col_expr(Column::Stage, Expr::value(first_stage))
        .filter(Column::RequestUriHash.eq(request_uri_hash))
        .filter(Column::SessionHash.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Replaces the session's CSRF token hash (a session whose forms start after a redirect).
pub async fn set_csrf(
    db: &impl ConnectionTrait,
    session_hash: &str,
    csrf_hash: &str,
) -> Result<()> {
    Entity::update_many()
        .col_expr(Column::CsrfHash, Expr::value(csrf_hash))
        .filter(Column::SessionHash.eq(session_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves the session from `from` to `to`, recording the signed-in customer if given; `false`
/// if another request moved it first.
pub async fn advance(
    db: &impl ConnectionTrait,
    session_hash: &str,
    from: SignInStage,
    to: SignInStage,
    customer_id: Option<&str>,
) -> Result<bool> {
    let mut update = Entity::update_many().col_expr(Column::Stage, Expr::value(to));
    if let Some(customer_id) = customer_id {
        update = update.col_expr(Column::CustomerId, Expr::value(customer_id));
    }
    let result = update
        .filter(Column::SessionHash.eq(session_hash))
        .filter(Column::Stage.eq(from))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Counts one more failed attempt in the session.
pub async fn record_failure(db: &impl ConnectionTrait, session_hash: &str) -> Result<()> {
    Entity::update_many()
        .col_expr(
            Column::FailedAttempts,
            Expr::col(Column::FailedAttempts).add(1),
        )
        .filter(Column::SessionHash.eq(session_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes requests whose `request_uri` expired at or before `expired_before`; answers how many.
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
