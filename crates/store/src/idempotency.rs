//! Idempotency records: `(app, Idempotency-Key, operation)` → the hash of the first request and
//! the response it got, so a retried create is answered, not repeated.
//!
//! Where the checks before the work are expensive or answer differently once the work is done
//! (a payment consumes its consent), [`peek`] first, outside any transaction: a key already
//! used is answered from its record whatever else is wrong with the request. Then, inside the
//! one transaction that does the operation's work:
//!
//! 1. [`claim`] the key first. `Fresh`: this transaction owns it — do the work. `Replay`: answer
//!    the stored response. `Mismatch`: the key was used for another request.
//! 2. [`complete`] it with the response, and commit together with the work.
//!
//! Claiming inserts the row with `ON CONFLICT DO NOTHING`. On PostgreSQL a concurrent claim of
//! the same key waits on the unique index until the owner commits (then it reads the stored
//! response) or rolls back (then it owns the key); SQLite runs one transaction at a time. So
//! one key does the work once, however many requests race, and a failed attempt (a refused
//! request, a crash) leaves the key free.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use wekeza_domain::AppId;

use crate::entity::idempotency_keys::{self, Column, Entity};
use crate::{Error, Result};

/// What a claimed key tells the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: do the operation and [`complete`] the key in the same transaction.
    Fresh,
    /// Used before with the same request: answer this stored response.
    Replay(Vec<u8>),
    /// Used before with a different request: refuse.
    Mismatch,
}

/// One use of an idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    /// The app that sent it.
    pub app: &'a AppId,
    /// The header's value.
    pub key: &'a str,
    /// The operation (rpc path) it was sent to.
    pub operation: &'a str,
}

/// Deletes every record of `app`'s keys, answering how many: the sandbox reset of one app
/// removes what they answered, so a key used again does the work again.
pub async fn delete_for_app(db: &impl ConnectionTrait, app: &AppId) -> Result<u64> {
    Ok(Entity::delete_many()
        .filter(Column::AppId.eq(app.as_str()))
        .exec(db)
        .await?
        .rows_affected)
}

/// Claims `key` for a request whose canonical bytes hash to `request_hash` (SHA-256 hex).
pub async fn claim(
    txn: &DatabaseTransaction,
    key: Key<'_>,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim> {
    let row = idempotency_keys::Model {
        app_id: key.app.to_string(),
        idempotency_key: key.key.to_owned(),
        operation: key.operation.to_owned(),
        request_hash: request_hash.to_owned(),
        response: None,
        created_at: now,
    };
    let inserted = Entity::insert(idempotency_keys::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([Column::AppId, Column::IdempotencyKey, Column::Operation])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let stored = Entity::find_by_id((
        key.app.to_string(),
        key.key.to_owned(),
        key.operation.to_owned(),
    ))
    .one(txn)
    .await?
    .ok_or_else(|| Error::Corrupt("idempotency key conflicted but is not stored".into()))?;
    if stored.request_hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    // Claim and completion commit together, so a visible row always has its response.
    stored
        .response
        .map(Claim::Replay)
        .ok_or_else(|| Error::Corrupt("idempotency key stored without its response".into()))
}

/// What the record of `key` says about a request hashing to `request_hash`, without claiming
/// it: `None` when the key is unused (or its first use has not committed yet), else
/// [`Claim::Replay`] or [`Claim::Mismatch`]. Read-only; [`claim`] still decides, in the
/// transaction, because a concurrent request may commit the key in between.
pub async fn peek(
    db: &impl ConnectionTrait,
    key: Key<'_>,
    request_hash: &str,
) -> Result<Option<Claim>> {
    let Some(stored) = Entity::find_by_id((
        key.app.to_string(),
        key.key.to_owned(),
        key.operation.to_owned(),
    ))
    .one(db)
    .await?
    else {
        return Ok(None);
    };
    if stored.request_hash != request_hash {
        return Ok(Some(Claim::Mismatch));
    }
    stored
        .response
        .map(|response| Some(Claim::Replay(response)))
        .ok_or_else(|| Error::Corrupt("idempotency key stored without its response".into()))
}

/// Stores the response of a [`Claim::Fresh`] key, in the transaction that claimed it.
pub async fn complete(txn: &DatabaseTransaction, key: Key<'_>, response: Vec<u8>) -> Result<()> {
    let result = Entity::update_many()
        .col_expr(Column::Response, Expr::value(response))
        .filter(Column::AppId.eq(key.app.as_str()))
        .filter(Column::IdempotencyKey.eq(key.key))
        .filter(Column::Operation.eq(key.operation))
        .exec(txn)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(Error::Corrupt(
            "completing an idempotency key that was not claimed".into(),
        ))
    }
}
