//! Funds holds: an amount reserved on a customer account for a debit that is not posted yet
//! (a pending payment), counted in the account's `held_minor` so that no other debit can spend
//! it.
//!
//! A hold is placed in the transaction that records what it is for ([`place`] — one
//! conditional `UPDATE` of the account, like [`crate::accounts::apply_delta`], so concurrent
//! holds can never reserve the same funds twice), and later either settled into a posting or
//! released ([`settle`], [`release`]), each exactly once: the hold's status changes with a
//! conditional `UPDATE` and the account's `held_minor` moves only when it did.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use wekeza_domain::{AccountId, Money};

use crate::Result;
use crate::entity::accounts;
use crate::entity::enums::{AccountOwner, HoldStatus};
use crate::entity::holds::{self, Column, Entity};

/// Whether a hold was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a refused hold reserved nothing"]
pub enum Placement {
    /// The funds are reserved.
    Placed,
    /// The account's available funds (booked − held + overdraft limit) do not cover the
    /// amount — or the account is not a customer account in the amount's currency. Nothing
    /// was written.
    Refused,
}

/// Reserves `amount` on `account` for `reference` (e.g. a payment id), at `now`.
///
/// Refused, in one conditional `UPDATE`, when it would take the available balance below
/// minus the overdraft limit: PostgreSQL re-evaluates the condition on the row it waited for
/// and SQLite has a single writer, so racing holds never overdraw. Run it in the transaction
/// that records what the hold is for.
pub async fn place(
    db: &impl ConnectionTrait,
    reference: &str,
    account: &AccountId,
    amount: Money,
    now: DateTime<Utc>,
) -> Result<Placement> {
    let minor = amount.minor();
    let held = Expr::col(accounts::Column::HeldMinor);
    // booked − held − amount + overdraft ≥ 0, written without negating a column.
    let covered = Expr::col(accounts::Column::BookedMinor)
        .sub(held.clone())
        .sub(minor)
        .add(Expr::col(accounts::Column::OverdraftLimitMinor))
        .gte(0);
    let mut update = Query::update();
    update
        .table(accounts::Entity)
        .value(accounts::Column::HeldMinor, held.add(minor))
        .and_where(Expr::col(accounts::Column::Id).eq(account.as_str()))
        .and_where(Expr::col(accounts::Column::Owner).eq(AccountOwner::Customer))
        .and_where(Expr::col(accounts::Column::Currency).eq(amount.currency().code()))
        .and_where(covered);
    if minor <= 0 || db.execute(&update).await?.rows_affected() != 1 {
        return Ok(Placement::Refused);
    }
    let row = holds::Model {
        reference: reference.to_owned(),
        account_id: account.to_string(),
        amount_minor: minor,
        currency: amount.currency().code().to_owned(),
        status: HoldStatus::Active,
        created_at: now,
        updated_at: now,
    };
    Entity::insert(holds::ActiveModel::from(row))
        .exec_without_returning(db)
        .await?;
    Ok(Placement::Placed)
}

/// The hold placed for `reference`, if any.
pub async fn find(db: &impl ConnectionTrait, reference: &str) -> Result<Option<holds::Model>> {
    Ok(Entity::find_by_id(reference).one(db).await?)
}

/// Marks the active hold `hold` settled at `now`. Answers `false`, writing nothing, when it is
/// no longer active (another settlement or a release ended it first). The account's held funds
/// do not move here: the settling debit releases them in its own balance update
/// ([`crate::accounts::apply_delta`]'s `released`), so the account row is locked once, in the
/// order the journal locks its accounts. Run both in one transaction.
pub async fn settle(
    db: &impl ConnectionTrait,
    hold: &holds::Model,
    now: DateTime<Utc>,
) -> Result<bool> {
    end(db, hold, HoldStatus::Settled, now).await
}

/// Releases the active hold `hold` at `now`, giving its amount back to the account's available
/// funds. Answers `false`, writing nothing, when it is no longer active (settled, or released
/// by another request first).
pub async fn release(
    db: &impl ConnectionTrait,
    hold: &holds::Model,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !end(db, hold, HoldStatus::Released, now).await? {
        return Ok(false);
    }
    accounts::Entity::update_many()
        .col_expr(
            accounts::Column::HeldMinor,
            Expr::col(accounts::Column::HeldMinor).sub(hold.amount_minor),
        )
        .filter(accounts::Column::Id.eq(hold.account_id.as_str()))
        .exec(db)
        .await?;
    Ok(true)
}

/// Moves an active hold to `to`; `false` when it was not active.
async fn end(
    db: &impl ConnectionTrait,
    hold: &holds::Model,
    to: HoldStatus,
    now: DateTime<Utc>,
) -> Result<bool> {
    let ended = Entity::update_many()
        .col_expr(Column::Status, Expr::value(to))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Reference.eq(hold.reference.as_str()))
        .filter(Column::Status.eq(HoldStatus::Active))
        .exec(db)
        .await?;
    Ok(ended.rows_affected == 1)
}
