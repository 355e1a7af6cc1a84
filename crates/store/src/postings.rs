//! Postings: an account's statement, newest first, filtered by booking time and keyset-paged
//! by id (ids are ULIDs of the booking time, so id order is time order); and a customer's
//! debits across their accounts, for the fraud checks.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wekeza_domain::{AccountId, CustomerId, TransactionId};

use crate::Result;
use crate::entity::enums::JournalKind;
use crate::entity::postings::{self, Column, Entity};
use crate::entity::{accounts, journals};

/// Which of an account's postings to list, newest id first.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostingFilter<'a> {
    /// Booked at or after.
    pub from_booking_time: Option<DateTime<Utc>>,
    /// Booked strictly before.
    pub to_booking_time: Option<DateTime<Utc>>,
    /// Only ids strictly below this one (the previous page's last id).
    pub before_id: Option<&'a TransactionId>,
    /// At most this many rows.
    pub limit: u64,
}

/// The account's postings matching `filter`, by id descending (newest first).
pub async fn list_for_account(
    db: &impl ConnectionTrait,
    account: &AccountId,
    filter: PostingFilter<'_>,
) -> Result<Vec<postings::Model>> {
    let mut select = Entity::find().filter(Column::AccountId.eq(account.as_str()));
    if let Some(from) = filter.from_booking_time {
        select = select.filter(Column::BookingTime.gte(from));
    }
    if let Some(to) = filter.to_booking_time {
        select = select.filter(Column::BookingTime.lt(to));
    }
    if let Some(before) = filter.before_id {
        select = select.filter(Column::Id.lt(before.as_str()));
    }
    Ok(select
        .order_by_desc(Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?)
}

/// One debit of a customer account, as the fraud checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debit {
    /// How much left the account, in minor units (positive).
    pub amount_minor: i64,
    /// The ISO 4217 currency.
    pub currency: String,
    /// When it was booked.
    pub booking_time: DateTime<Utc>,
}

/// The debits of `customer`'s accounts booked at or after `since`, in any order, leaving out
/// journals of kind `except` (payment journals, which the payments table describes better).
pub async fn customer_debits_since(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    since: DateTime<Utc>,
    except: JournalKind,
) -> Result<Vec<Debit>> {
    let mut select = Query::select();
    select
        .columns([
            (Entity, Column::AmountMinor),
            (Entity, Column::Currency),
            (Entity, Column::BookingTime),
        ])
        .from(Entity)
        .inner_join(
            accounts::Entity,
            Expr::col((accounts::Entity, accounts::Column::Id)).equals((Entity, Column::AccountId)),
        )
        .inner_join(
            journals::Entity,
            Expr::col((journals::Entity, journals::Column::Id)).equals((Entity, Column::JournalId)),
        )
        .and_where(
            Expr::col((accounts::Entity, accounts::Column::CustomerId)).eq(customer.as_str()),
        )
        .and_where(Expr::col((Entity, Column::AmountMinor)).lt(0))
        .and_where(Expr::col((Entity, Column::BookingTime)).gte(since))
        .and_where(Expr::col((journals::Entity, journals::Column::Kind)).ne(except));
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            let minor: i64 = row.try_get_by_index(0)?;
            Ok(Debit {
                amount_minor: minor.saturating_neg(),
                currency: row.try_get_by_index(1)?,
                booking_time: row.try_get_by_index(2)?,
            })
        })
        .collect()
}
