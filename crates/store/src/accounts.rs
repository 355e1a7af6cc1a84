//! Accounts: look-ups, a customer's accounts by keyset page, and the one statement that moves
//! a running balance ([`apply_delta`]).

use std::collections::BTreeSet;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wekeza_domain::{AccountId, CustomerId};

use crate::Result;
use crate::entity::accounts::{self, Column, Entity};
use crate::entity::enums::AccountOwner;

/// Which of a customer's accounts to list, oldest id first.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountFilter<'a> {
    /// Only these accounts; `None` for all of the customer's.
    pub only: Option<&'a BTreeSet<AccountId>>,
    /// Only ids strictly above this one (the previous page's last id).
    pub after_id: Option<&'a AccountId>,
    /// At most this many rows.
    pub limit: u64,
}

/// The account with this id, customer's or internal, if any.
pub async fn find(db: &impl ConnectionTrait, id: &AccountId) -> Result<Option<accounts::Model>> {
    Ok(Entity::find_by_id(id.as_str()).one(db).await?)
}

/// The account with this account number, if any.
pub async fn find_by_number(
    db: &impl ConnectionTrait,
    account_number: &str,
) -> Result<Option<accounts::Model>> {
    Ok(Entity::find()
        .filter(Column::AccountNumber.eq(account_number))
        .one(db)
        .await?)
}

/// The customer's accounts matching `filter`, by id ascending.
pub async fn list_for_customer(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    filter: AccountFilter<'_>,
) -> Result<Vec<accounts::Model>> {
    let mut select = Entity::find()
        .filter(Column::CustomerId.eq(customer.as_str()))
        .filter(Column::Owner.eq(AccountOwner::Customer));
    if let Some(only) = filter.only {
        if only.is_empty() {
            return Ok(Vec::new());
        }
        select = select.filter(Column::Id.is_in(only.iter().map(AccountId::as_str)));
    }
    if let Some(after) = filter.after_id {
        select = select.filter(Column::Id.gt(after.as_str()));
    }
    Ok(select
        .order_by_asc(Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?)
}

/// Whether a debit must keep a customer account within its overdraft limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdraft {
    /// Refused below the limit: every debit a customer or the bank initiates.
    Enforced,
    /// Applied whatever the limit: a reversal, which only takes back what an earlier journal
    /// moved (the sandbox reset of one app's payments).
    Waived,
}

/// Adds `delta` minor units to the account's booked balance and answers the new balance;
/// `released` minor units of its held funds stop being held in the same statement (the
/// settlement of a hold into this debit; 0 otherwise).
///
/// A debit (`delta < 0`) of a customer account is refused, answering `None`, when it would take
/// the available balance (booked − held) below minus the overdraft limit — unless the limit is
/// [`Overdraft::Waived`]. Check and change are one conditional `UPDATE … RETURNING`, so
/// concurrent debits can never both spend the same funds: PostgreSQL re-evaluates the
/// condition on the row it waited for, and SQLite has a single writer. Credits, and debits of
/// internal accounts, always apply. `None` also answers for an account that does not exist.
/// Run it inside the transaction that writes the postings.
pub async fn apply_delta(
    db: &impl ConnectionTrait,
    id: &AccountId,
    delta: i64,
    released: i64,
    overdraft: Overdraft,
) -> Result<Option<i64>> {
    let booked = Expr::col(Column::BookedMinor);
    let mut update = Query::update();
    update
        .table(Entity)
        .value(Column::BookedMinor, booked.clone().add(delta))
        .and_where(Expr::col(Column::Id).eq(id.as_str()));
    if released != 0 {
        update.value(
            Column::HeldMinor,
            Expr::col(Column::HeldMinor).sub(released),
        );
    }
    if delta < 0 && overdraft == Overdraft::Enforced {
        // booked + delta − (held − released) ≥ −overdraft, written without negating a column.
        let stays_within_limit = booked
            .add(delta)
            .add(released)
            .add(Expr::col(Column::OverdraftLimitMinor))
            .sub(Expr::col(Column::HeldMinor))
            .gte(0);
        update.cond_where(
            Condition::any()
                .add(Expr::col(Column::Owner).eq(AccountOwner::Internal))
                .add(stays_within_limit),
        );
    }
    update.returning_col(Column::BookedMinor);
    let Some(row) = db.query_one(&update).await? else {
        return Ok(None);
    };
    Ok(Some(row.try_get_by_index::<i64>(0)?))
}

/// Inserts accounts as they are, in one statement per chunk.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = accounts::Model>,
) -> Result<()> {
    crate::journals::insert_chunked::<accounts::ActiveModel, _>(db, rows).await
}
